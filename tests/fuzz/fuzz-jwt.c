/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "prd-fuzz"

#include "config.h"

#include <string.h>

#include "prd-auth.h"
#include "prd-error.h"
#include "prd-fuzz.h"

/*
 * JWT verification (prd_auth_verify_at) with an HS256 key. The first byte
 * chooses how the rest is used:
 *   'T'  the rest is the token, as a client sends it;
 *   else the rest is "<header JSON>\n<claims JSON>": the target encodes both
 *        and signs them with the hub's key (HMAC-SHA-256), so that the claim
 *        checks behind the signature are reached too.
 */

#define SECRET "fuzz-secret-fuzz-secret-fuzz-secret-0123456789"
#define NOW    1700000000

static PrdAuth *auth;

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  g_autoptr (GBytes) secret = g_bytes_new_static (SECRET, strlen (SECRET));
  g_autoptr (GError) error = NULL;

  auth = prd_auth_new_hmac (secret, &error);
  g_assert_no_error (error);
  return 0;
}

static void
append_base64url (GString *out, const char *data, gsize len)
{
  g_autofree char *b64 = g_base64_encode ((const guchar *) data, len);

  for (char *p = b64; *p != '\0'; p++)
    {
      if (*p == '=')
        break;
      g_string_append_c (out, *p == '+' ? '-' : *p == '/' ? '_' : *p);
    }
}

static char *
sign (const char *header, gsize header_len, const char *claims, gsize claims_len)
{
  GString *token = g_string_new (NULL);
  g_autoptr (GHmac) hmac = g_hmac_new (G_CHECKSUM_SHA256, (const guchar *) SECRET, strlen (SECRET));
  guint8 digest[32];
  gsize digest_len = sizeof digest;

  append_base64url (token, header, header_len);
  g_string_append_c (token, '.');
  append_base64url (token, claims, claims_len);
  g_hmac_update (hmac, (const guchar *) token->str, (gssize) token->len);
  g_hmac_get_digest (hmac, digest, &digest_len);
  g_string_append_c (token, '.');
  append_base64url (token, (const char *) digest, digest_len);
  return g_string_free (token, FALSE);
}

static void
verify (const char *token)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PrdIdentity) identity = prd_auth_verify_at (auth, token, NOW, &error);

  if (identity == NULL)
    {
      g_assert_nonnull (error);
      g_assert_true (error->domain == PRD_ERROR);
      g_assert_true (error->code == PRD_ERROR_AUTHENTICATION_FAILED ||
                     error->code == PRD_ERROR_TOKEN_EXPIRED);
      return;
    }
  g_assert_no_error (error);
  /* What verifies passes the one identity rule, and can be minted again. */
  g_assert_true (prd_identity_check_claims (identity->user_id, identity->name, identity->org,
                                            identity->avatar, NULL));
  g_assert_cmpint (identity->exp, >, NOW);
  g_free (prd_auth_mint (auth, identity, NULL));
}

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  const char *text = (const char *) data + 1;
  gsize len = size - 1;

  if (size == 0)
    return 0;
  if (data[0] == 'T')
    {
      g_autofree char *token = g_strndup (text, len);

      verify (token);
    }
  else
    {
      const char *nl = memchr (text, '\n', len);
      g_autofree char *token = NULL;

      if (nl == NULL)
        return 0;
      token = sign (text, (gsize) (nl - text), nl + 1, len - (gsize) (nl - text) - 1);
      verify (token);
    }
  return 0;
}
