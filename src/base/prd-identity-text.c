/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The one rule for the text of an identity (organization, user id, display
 * name): below the store, which creates PRDs with an organization and an
 * owner, and the hub's authentication, which reads them from tokens, so
 * that both refuse the same names.
 */
#define G_LOG_DOMAIN "prd-identity-text"

#include "config.h"

#include <string.h>

#include "prd-identity-text.h"

/**
 * prd_identity_text_check:
 * @text: an organization, a user id or a display name
 * @max_bytes: the most bytes @text may take
 * @required: whether @text may be empty
 * @forbid_brackets: whether `<` and `>` are refused
 *
 * The one rule for the text of who someone is, as a token's claims say it
 * (prd_identity_check_claims()) and as PRDs are created with it: UTF-8, at
 * most @max_bytes bytes, no white space at either end, no control characters
 * or line breaks (U+2028, U+2029), and with @forbid_brackets no `<` or `>`
 * (they end up in git authors, `Name <sub@org>`). An organization or an
 * owner no token can carry would make a PRD no one can reach.
 *
 * Returns: (nullable): %NULL if @text is acceptable, else why not, to follow
 *   the name of what @text is ("is empty", "must not contain '<' or '>'", …)
 */
const char *
prd_identity_text_check (const char *text,
                         gsize max_bytes,
                         gboolean required,
                         gboolean forbid_brackets)
{
  gsize len;

  g_return_val_if_fail (text != NULL, "is missing");

  len = strlen (text);
  if (len == 0)
    return required ? "is empty" : NULL;
  if (len > max_bytes)
    return "is too long";
  if (!g_utf8_validate (text, (gssize) len, NULL))
    return "is not valid UTF-8";
  if (g_unichar_isspace (g_utf8_get_char (text)) ||
      g_unichar_isspace (g_utf8_get_char (g_utf8_prev_char (text + len))))
    return "must not start or end with white space";
  for (const char *p = text; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (g_unichar_iscntrl (c) || c == 0x2028 || c == 0x2029)
        return "must not contain control characters or line breaks";
      if (forbid_brackets && (c == '<' || c == '>'))
        return "must not contain '<' or '>'";
    }
  return NULL;
}
