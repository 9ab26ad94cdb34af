/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <glib/gstdio.h>
#include <jwt.h>

#include "prd-auth.h"
#include "prd-autocleanups.h"
#include "prd-error.h"
#include "prd-hub-config.h"
#include "prd-hub-config-collab.h"
#include "prd-hub-config-rate-limit.h"
#include "prd-hub-config-server.h"
#include "prd-hub-secret.h"

#define SECRET     "0123456789abcdef0123456789abcdef-test-secret"
#define FAR_FUTURE 4102444800 /* 2100-01-01, the exp of the PyJWT tokens */

static gint64
now_s (void)
{
  return g_get_real_time () / G_USEC_PER_SEC;
}

static char *
data_path (const char *name)
{
  return g_test_build_filename (G_TEST_DIST, "data", "auth", name, NULL);
}

static char *
read_data (const char *name, gsize *len)
{
  g_autofree char *path = data_path (name);
  g_autoptr (GError) error = NULL;
  char *contents = NULL;

  g_file_get_contents (path, &contents, len, &error);
  g_assert_no_error (error);
  return contents;
}

static char *
read_token (const char *name)
{
  return g_strstrip (read_data (name, NULL));
}

static PrdAuth *
hmac_auth (void)
{
  g_autoptr (GBytes) secret = g_bytes_new_static (SECRET, strlen (SECRET));
  g_autoptr (GError) error = NULL;
  PrdAuth *auth = prd_auth_new_hmac (secret, &error);

  g_assert_no_error (error);
  return auth;
}

static PrdAuth *
key_auth (const char *name)
{
  g_autofree char *path = data_path (name);
  g_autoptr (GError) error = NULL;
  PrdAuth *auth = prd_auth_new_public_key_file (path, &error);

  g_assert_no_error (error);
  g_assert_nonnull (auth);
  return auth;
}

/* Signs @claims_json with libjwt. */
static char *
sign (jwt_alg_t alg, const void *key, gsize key_len, const char *claims_json)
{
  g_autoptr (jwt_t) jwt = NULL;
  char *raw;
  char *token;

  g_assert_cmpint (jwt_new (&jwt), ==, 0);
  g_assert_cmpint (jwt_add_grants_json (jwt, claims_json), ==, 0);
  g_assert_cmpint (jwt_set_alg (jwt, alg, key, (int) key_len), ==, 0);
  raw = jwt_encode_str (jwt);
  g_assert_nonnull (raw);
  token = g_strdup (raw);
  free (raw);
  return token;
}

static char *
sign_hs (const char *claims_json)
{
  return sign (JWT_ALG_HS256, SECRET, strlen (SECRET), claims_json);
}

static char *
b64url (const char *text)
{
  g_autofree char *b64 = g_base64_encode ((const guchar *) text, strlen (text));
  GString *out = g_string_new (NULL);

  for (const char *p = b64; *p != '\0' && *p != '='; p++)
    g_string_append_c (out, *p == '+' ? '-' : *p == '/' ? '_' : *p);
  return g_string_free (out, FALSE);
}

static char *
raw_token (const char *header, const char *payload, const char *signature)
{
  g_autofree char *h = b64url (header);
  g_autofree char *p = b64url (payload);

  return g_strdup_printf ("%s.%s.%s", h, p, signature);
}

static char *
claims (const char *extra)
{
  return g_strdup_printf ("{\"sub\":\"user_1\",\"name\":\"Ann\",\"org\":\"org_1\","
                          "\"role\":\"editor\",\"exp\":%" G_GINT64_FORMAT "%s%s}",
                          now_s () + 3600, extra != NULL ? "," : "", extra != NULL ? extra : "");
}

static void
assert_refused (PrdAuth *auth, const char *token, int code, const char *message)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PrdIdentity) identity = prd_auth_verify (auth, token, &error);

  g_assert_null (identity);
  g_assert_error (error, PRD_ERROR, code);
  if (message != NULL)
    g_assert_cmpstr (error->message, ==, message);
}

static void
assert_auth_failed (PrdAuth *auth, const char *token, const char *message)
{
  assert_refused (auth, token, PRD_ERROR_AUTHENTICATION_FAILED, message);
}

static void
test_hs256_valid (void)
{
  g_autoptr (PrdAuth) auth = hmac_auth ();
  g_autoptr (PrdIdentity) in = NULL;
  g_autoptr (PrdIdentity) out = NULL;
  g_autoptr (PrdIdentity) out2 = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *token = NULL;
  g_autofree char *token2 = NULL;
  g_autofree char *c = NULL;

  g_assert_cmpstr (prd_auth_get_algorithm_family (auth), ==, "HS");

  in = prd_identity_new ("user_456", "Sarah Smith", "https://avatar.url", "org_123", PRD_ROLE_ADMIN,
                         now_s () + 600);
  token = prd_auth_mint (auth, in, &error);
  g_assert_no_error (error);
  out = prd_auth_verify (auth, token, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (out->user_id, ==, "user_456");
  g_assert_cmpstr (out->name, ==, "Sarah Smith");
  g_assert_cmpstr (out->avatar, ==, "https://avatar.url");
  g_assert_cmpstr (out->org, ==, "org_123");
  g_assert_cmpint (out->role, ==, PRD_ROLE_ADMIN);
  g_assert_cmpint (out->exp, ==, in->exp);

  /* Signed by libjwt directly, no avatar, viewer, fractional exp. */
  c = g_strdup_printf ("{\"sub\":\"u\",\"name\":\"\",\"org\":\"o\",\"role\":\"viewer\","
                       "\"exp\":%" G_GINT64_FORMAT ".5}",
                       now_s () + 600);
  token2 = sign_hs (c);
  out2 = prd_auth_verify (auth, token2, &error);
  g_assert_no_error (error);
  g_assert_null (out2->avatar);
  g_assert_cmpstr (out2->name, ==, "");
  g_assert_cmpint (out2->role, ==, PRD_ROLE_VIEWER);
}

/* A sign-in link's token opens its link and nothing else; a session's
 * token is no link. */
static void
test_sign_in_link (void)
{
  g_autoptr (PrdAuth) auth = hmac_auth ();
  g_autoptr (PrdIdentity) in = prd_identity_new ("user_456", "Sarah Smith", NULL, "org_123",
                                                 PRD_ROLE_EDITOR, now_s () + 600);
  g_autoptr (PrdIdentity) out = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *link = prd_auth_mint_link (auth, in, &error);
  g_autofree char *other = prd_auth_mint_link (auth, in, &error);
  g_autofree char *session = prd_auth_mint (auth, in, &error);
  g_autofree char *link_id = NULL;
  g_autofree char *other_id = NULL;
  g_autofree char *forged = NULL;

  g_assert_no_error (error);
  assert_auth_failed (auth, link, "This token is a sign-in link's: open the link to sign in");
  out = prd_auth_verify_link_at (auth, link, now_s (), &link_id, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (out->user_id, ==, "user_456");
  g_assert_cmpint (out->exp, ==, in->exp);
  g_assert_true (g_uuid_string_is_valid (link_id));
  g_clear_pointer (&out, prd_identity_free);
  out = prd_auth_verify_link_at (auth, other, now_s (), &other_id, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (link_id, !=, other_id);
  g_clear_pointer (&out, prd_identity_free);
  g_clear_pointer (&link_id, g_free);

  g_assert_null (prd_auth_verify_link_at (auth, session, now_s (), &link_id, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_AUTHENTICATION_FAILED);
  g_assert_null (link_id);
  g_clear_error (&error);
  g_assert_null (prd_auth_verify_link_at (auth, link, in->exp, &link_id, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_TOKEN_EXPIRED);
  g_clear_error (&error);
  /* a link id that is not a UUID */
  forged = sign_hs ("{\"sub\":\"u\",\"name\":\"U\",\"org\":\"o\",\"role\":\"editor\","
                    "\"exp\":99999999999,\"sign_in_link\":\"x\"}");
  g_assert_null (prd_auth_verify_link_at (auth, forged, now_s (), &link_id, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_AUTHENTICATION_FAILED);
  g_assert_null (link_id);
  g_clear_error (&error);
  assert_auth_failed (auth, forged, "This token is a sign-in link's: open the link to sign in");
  /* revoked users' links are refused too */
  prd_auth_revoke (auth, "org_123", "user_456", now_s () + 1);
  g_assert_null (prd_auth_verify_link_at (auth, link, now_s (), &link_id, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_TOKEN_REVOKED);
  g_assert_null (link_id);
}

static void
test_public_key_valid (gconstpointer data)
{
  const char *const *pair = data;
  g_autoptr (PrdAuth) auth = key_auth (pair[0]);
  g_autofree char *token = read_token (pair[1]);
  g_autoptr (GError) error = NULL;
  g_autoptr (PrdIdentity) identity = NULL;

  identity = prd_auth_verify (auth, token, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (identity->user_id, ==, "user_456");
  g_assert_cmpstr (identity->name, ==, "Sarah Smith");
  g_assert_cmpstr (identity->avatar, ==, "https://avatar.example/sarah.png");
  g_assert_cmpstr (identity->org, ==, "org_123");
  g_assert_cmpint (identity->role, ==, PRD_ROLE_EDITOR);
  g_assert_cmpint (identity->exp, ==, FAR_FUTURE);
}

static void
test_es256_libjwt_signed (void)
{
  g_autoptr (PrdAuth) auth = key_auth ("ec256-public.pem");
  g_autoptr (PrdIdentity) identity = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *key = NULL;
  g_autofree char *c = claims (NULL);
  g_autofree char *token = NULL;
  gsize len;

  g_assert_cmpstr (prd_auth_get_algorithm_family (auth), ==, "ES");
  key = read_data ("ec256-private.pem", &len);
  token = sign (JWT_ALG_ES256, key, len, c);
  identity = prd_auth_verify (auth, token, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (identity->user_id, ==, "user_1");
}

static void
test_missing (void)
{
  g_autoptr (PrdAuth) auth = hmac_auth ();

  assert_auth_failed (auth, NULL, "Missing token");
  assert_auth_failed (auth, "", "Missing token");
}

static void
test_too_long (void)
{
  g_autoptr (PrdAuth) auth = hmac_auth ();
  g_autofree char *pad = g_strnfill (PRD_AUTH_MAX_TOKEN_LENGTH + 1, 'a');
  g_autofree char *long_claims = NULL;
  g_autofree char *long_token = NULL;

  assert_auth_failed (auth, pad, "Token too long");

  /* A genuine, correctly signed token over the limit is refused too. */
  long_claims = g_strdup_printf ("{\"sub\":\"u\",\"name\":\"%s\",\"org\":\"o\","
                                 "\"role\":\"viewer\",\"exp\":%" G_GINT64_FORMAT "}",
                                 pad, now_s () + 600);
  long_token = sign_hs (long_claims);
  g_assert_cmpuint (strlen (long_token), >, PRD_AUTH_MAX_TOKEN_LENGTH);
  assert_auth_failed (auth, long_token, "Token too long");
}

static void
test_malformed (void)
{
  g_autoptr (PrdAuth) auth = hmac_auth ();
  g_autofree char *c = claims (NULL);
  g_autofree char *good = sign_hs (c);
  g_auto (GStrv) parts = g_strsplit (good, ".", -1);
  g_autofree char *not_json = raw_token ("{\"alg\":\"HS256\"", c, "c2ln");
  g_autofree char *array_header = raw_token ("[\"HS256\"]", c, "c2ln");
  g_autofree char *bad_payload = raw_token ("{\"alg\":\"HS256\"}", "[1,2]", "c2ln");
  g_autofree char *no_alg = raw_token ("{\"typ\":\"JWT\"}", c, "c2ln");
  g_autofree char *num_alg = raw_token ("{\"alg\":256}", c, "c2ln");
  g_autofree char *unknown_alg = raw_token ("{\"alg\":\"XS256\"}", c, "c2ln");
  const char *const shapes[] = {
    "abc", "a.b", "a.b.c.d", "a..c", ".b.c", "a.b.", "a b.c.d", "a.b.c=", "a.b+.c", "a.b.c\n",
  };

  for (guint i = 0; i < G_N_ELEMENTS (shapes); i++)
    assert_auth_failed (auth, shapes[i], "Malformed token");
  assert_auth_failed (auth, "YQ.YQ.YQ", "Malformed token header");
  assert_auth_failed (auth, not_json, "Malformed token header");
  assert_auth_failed (auth, array_header, "Malformed token header");
  assert_auth_failed (auth, bad_payload, "Malformed token payload");
  assert_auth_failed (auth, no_alg, "Token header has no algorithm");
  assert_auth_failed (auth, num_alg, "Token header has no algorithm");
  assert_auth_failed (auth, unknown_alg, NULL);
  {
    g_autofree char *crit = raw_token ("{\"alg\":\"HS256\",\"crit\":[\"exp\"]}", c, "c2ln");

    assert_auth_failed (auth, crit, "Token header has unsupported critical extensions");
  }

  /* What json-glib alone would read: the hub's strict reader refuses it
   * before libjwt sees the token. */
  {
    g_autofree char *quoted_header = raw_token ("{'alg':'HS256'}", c, "c2ln");
    g_autofree char *nul_claims = claims ("\"team\":\"a\\u0000b\"");
    g_autofree char *nul_payload = raw_token ("{\"alg\":\"HS256\"}", nul_claims, "c2ln");
    g_autofree char *surrogate_claims = claims ("\"team\":\"\\ud800\"");
    g_autofree char *surrogate_payload =
        raw_token ("{\"alg\":\"HS256\"}", surrogate_claims, "c2ln");
    g_autoptr (GString) deep = g_string_new (NULL);
    g_autofree char *deep_claims = NULL;
    g_autofree char *deep_payload = NULL;

    g_string_append (deep, "\"x\":");
    for (guint i = 0; i < 64; i++)
      g_string_append_c (deep, '[');
    for (guint i = 0; i < 64; i++)
      g_string_append_c (deep, ']');
    deep_claims = claims (deep->str);
    deep_payload = raw_token ("{\"alg\":\"HS256\"}", deep_claims, "c2ln");

    assert_auth_failed (auth, quoted_header, "Malformed token header");
    assert_auth_failed (auth, nul_payload, "Malformed token payload");
    assert_auth_failed (auth, surrogate_payload, "Malformed token payload");
    assert_auth_failed (auth, deep_payload, "Malformed token payload");
  }

  /* Truncated segments of a real token */
  {
    g_autofree char *cut = g_strdup_printf ("%s.%s.%s", parts[0], parts[1], "x");

    assert_auth_failed (auth, cut, "Invalid token signature");
  }
}

static void
test_bad_signature (void)
{
  g_autoptr (PrdAuth) auth = hmac_auth ();
  g_autoptr (PrdAuth) rsa = key_auth ("rsa-public.pem");
  g_autofree char *c = claims (NULL);
  const char *other_secret = "another-secret-another-secret-another-secret";
  g_autofree char *other = sign (JWT_ALG_HS256, other_secret, strlen (other_secret), c);
  g_autofree char *good = sign_hs (c);
  g_autofree char *rs = read_token ("rs256-valid.jwt");
  g_auto (GStrv) parts = g_strsplit (good, ".", -1);
  g_auto (GStrv) rs_parts = g_strsplit (rs, ".", -1);
  g_autofree char *admin_claims = NULL;
  g_autofree char *admin_payload = NULL;
  g_autofree char *tampered = NULL;
  g_autofree char *rs_tampered = NULL;

  assert_auth_failed (auth, other, "Invalid token signature");

  /* The viewer promotes itself: same header and signature, new payload. */
  admin_claims = g_strdup_printf ("{\"sub\":\"user_1\",\"name\":\"Ann\",\"org\":\"org_1\","
                                  "\"role\":\"admin\",\"exp\":%" G_GINT64_FORMAT "}",
                                  now_s () + 3600);
  admin_payload = b64url (admin_claims);
  tampered = g_strdup_printf ("%s.%s.%s", parts[0], admin_payload, parts[2]);
  assert_auth_failed (auth, tampered, "Invalid token signature");

  rs_tampered = g_strdup_printf ("%s.%s.%s", rs_parts[0], admin_payload, rs_parts[2]);
  assert_auth_failed (rsa, rs_tampered, "Invalid token signature");
}

static void
test_alg_none (void)
{
  g_autoptr (PrdAuth) auth = hmac_auth ();
  g_autoptr (PrdAuth) rsa = key_auth ("rsa-public.pem");
  g_autofree char *c = claims (NULL);
  g_autofree char *none = raw_token ("{\"alg\":\"none\",\"typ\":\"JWT\"}", c, "AA");
  g_autofree char *none_upper = raw_token ("{\"alg\":\"NONE\"}", c, "AA");
  g_autofree char *unsigned_token = raw_token ("{\"alg\":\"none\"}", c, "");
  g_autofree char *unsigned_upper = raw_token ("{\"alg\":\"None\",\"typ\":\"JWT\"}", c, "");
  g_autofree char *empty_signature = raw_token ("{\"alg\":\"HS256\"}", c, "");

  assert_auth_failed (auth, none, "Unsigned tokens are not accepted");
  assert_auth_failed (auth, none_upper, "Unsigned tokens are not accepted");
  assert_auth_failed (rsa, none, "Unsigned tokens are not accepted");
  /* The canonical unsecured form has an empty signature: refused for what
   * it is, whatever the verifier's family. */
  assert_auth_failed (auth, unsigned_token, "Unsigned tokens are not accepted");
  assert_auth_failed (rsa, unsigned_token, "Unsigned tokens are not accepted");
  assert_auth_failed (auth, unsigned_upper, "Unsigned tokens are not accepted");
  /* An empty signature under a real algorithm is still a bad shape. */
  assert_auth_failed (auth, empty_signature, "Malformed token");
}

/* @header and @payload signed with HS256 and the test secret, whatever
 * @header's alg says. */
static char *
hmac_token (const char *header, const char *payload)
{
  g_autofree char *unsigned_part = raw_token (header, payload, "");
  g_autoptr (GHmac) hmac = g_hmac_new (G_CHECKSUM_SHA256, (const guchar *) SECRET, strlen (SECRET));
  g_autofree char *b64 = NULL;
  guint8 digest[32];
  gsize digest_len = sizeof digest;
  GString *token = g_string_new (unsigned_part);

  /* the signing input is everything before the final '.' */
  g_hmac_update (hmac, (const guchar *) unsigned_part, (gssize) strlen (unsigned_part) - 1);
  g_hmac_get_digest (hmac, digest, &digest_len);
  b64 = g_base64_encode (digest, digest_len);
  for (const char *p = b64; *p != '\0' && *p != '='; p++)
    g_string_append_c (token, *p == '+' ? '-' : *p == '/' ? '_' : *p);
  return g_string_free (token, FALSE);
}

/* RFC 7515 §4.1.1: alg values are case-sensitive; libjwt alone would take
 * "hs256" for HS256. */
static void
test_alg_case_sensitive (void)
{
  g_autoptr (PrdAuth) auth = hmac_auth ();
  g_autoptr (PrdAuth) rsa = key_auth ("rsa-public.pem");
  g_autoptr (PrdAuth) ec = key_auth ("ec256-public.pem");
  g_autoptr (PrdIdentity) identity = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *c = claims (NULL);
  g_autofree char *exact = hmac_token ("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", c);
  g_autofree char *lower = hmac_token ("{\"alg\":\"hs256\",\"typ\":\"JWT\"}", c);
  g_autofree char *mixed = hmac_token ("{\"alg\":\"Hs512\"}", c);
  g_autofree char *rs_lower = raw_token ("{\"alg\":\"rs256\"}", c, "c2ln");
  g_autofree char *es_lower = raw_token ("{\"alg\":\"es256\"}", c, "c2ln");

  /* The helper signs as libjwt does: the exact spelling verifies. */
  identity = prd_auth_verify (auth, exact, &error);
  g_assert_no_error (error);
  g_assert_nonnull (identity);
  assert_auth_failed (auth, lower,
                      "Token algorithm is not accepted (algorithm names are case-sensitive: "
                      "this hub accepts HS256, HS384 or HS512)");
  assert_auth_failed (auth, mixed,
                      "Token algorithm is not accepted (algorithm names are case-sensitive: "
                      "this hub accepts HS256, HS384 or HS512)");
  assert_auth_failed (rsa, rs_lower,
                      "Token algorithm is not accepted (algorithm names are case-sensitive: "
                      "this hub accepts RS256, RS384 or RS512)");
  assert_auth_failed (ec, es_lower,
                      "Token algorithm is not accepted (algorithm names are case-sensitive: "
                      "this hub accepts ES256)");
}

static void
test_key_confusion (void)
{
  g_autoptr (PrdAuth) rsa = key_auth ("rsa-public.pem");
  g_autoptr (PrdAuth) ec = key_auth ("ec256-public.pem");
  g_autofree char *c = claims (NULL);
  g_autofree char *rsa_pem = NULL;
  g_autofree char *ec_pem = NULL;
  g_autofree char *forged = NULL;
  g_autofree char *forged_ec = NULL;
  g_autoptr (jwt_t) jwt = NULL;
  gsize rsa_len, ec_len;

  /* The forgery: HS256 keyed with the (public) PEM bytes. */
  rsa_pem = read_data ("rsa-public.pem", &rsa_len);
  forged = sign (JWT_ALG_HS256, rsa_pem, rsa_len, c);
  /* libjwt alone would accept it: the header check is what stops it. */
  g_assert_cmpint (jwt_decode (&jwt, forged, (const unsigned char *) rsa_pem, (int) rsa_len), ==,
                   0);
  assert_auth_failed (rsa, forged,
                      "Token algorithm is not accepted (this hub accepts RS tokens only)");

  ec_pem = read_data ("ec256-public.pem", &ec_len);
  forged_ec = sign (JWT_ALG_HS256, ec_pem, ec_len, c);
  assert_auth_failed (ec, forged_ec,
                      "Token algorithm is not accepted (this hub accepts ES256 tokens only)");
}

static void
test_wrong_family (void)
{
  g_autoptr (PrdAuth) hmac = hmac_auth ();
  g_autoptr (PrdAuth) rsa = key_auth ("rsa-public.pem");
  g_autoptr (PrdAuth) ec384 = key_auth ("ec384-public.pem");
  g_autofree char *rs = read_token ("rs256-valid.jwt");
  g_autofree char *es = read_token ("es256-valid.jwt");
  g_autofree char *c = claims (NULL);
  g_autofree char *hs = sign_hs (c);

  assert_auth_failed (hmac, rs,
                      "Token algorithm is not accepted (this hub accepts HS tokens only)");
  assert_auth_failed (hmac, es,
                      "Token algorithm is not accepted (this hub accepts HS tokens only)");
  assert_auth_failed (rsa, hs, "Token algorithm is not accepted (this hub accepts RS tokens only)");
  assert_auth_failed (rsa, es, "Token algorithm is not accepted (this hub accepts RS tokens only)");
  /* An EC key fixes the curve, hence the one algorithm. */
  assert_auth_failed (ec384, es,
                      "Token algorithm is not accepted (this hub accepts ES384 tokens only)");
}

/* A revocation refuses the user's tokens issued at or before it (and those
 * without iat), in that organization only; it only grows. */
static void
test_revoked (void)
{
  g_autoptr (PrdAuth) auth = hmac_auth ();
  gint64 t = now_s () - 30;
  struct
  {
    const char *org;
    const char *iat; /* NULL: no iat claim */
    gboolean revoked;
  } cases[] = {
    { "o", NULL, TRUE }, { "o", "-20", TRUE },     { "o", "0", TRUE },
    { "o", "1", FALSE }, { "other", NULL, FALSE },
  };

  prd_auth_revoke (auth, "o", "u", t);
  /* An older revocation changes nothing. */
  prd_auth_revoke (auth, "o", "u", t - 100);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *iat = NULL;
      g_autofree char *c = NULL;
      g_autofree char *token = NULL;
      g_autoptr (PrdIdentity) identity = NULL;
      g_autoptr (GError) error = NULL;

      if (cases[i].iat != NULL)
        iat = g_strdup_printf (",\"iat\":%" G_GINT64_FORMAT,
                               t + g_ascii_strtoll (cases[i].iat, NULL, 10));
      c = g_strdup_printf ("{\"sub\":\"u\",\"name\":\"n\",\"org\":\"%s\",\"role\":\"editor\","
                           "\"exp\":%" G_GINT64_FORMAT "%s}",
                           cases[i].org, now_s () + 600, iat != NULL ? iat : "");
      token = sign_hs (c);
      identity = prd_auth_verify (auth, token, &error);
      if (cases[i].revoked)
        {
          g_assert_error (error, PRD_ERROR, PRD_ERROR_TOKEN_REVOKED);
          g_assert_cmpstr (error->message, ==, "Token revoked");
          g_assert_null (identity);
        }
      else
        {
          g_assert_no_error (error);
          g_assert_false (prd_auth_is_revoked (auth, identity));
          g_assert_cmpint (identity->iat, ==, iat != NULL ? t + 1 : 0);
        }
    }
}

static void
test_expired (void)
{
  g_autoptr (PrdAuth) auth = hmac_auth ();
  g_autoptr (PrdIdentity) identity = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *c = NULL;
  g_autofree char *token = NULL;
  g_autofree char *rs = read_token ("rs256-valid.jwt");
  g_autoptr (PrdAuth) rsa = key_auth ("rsa-public.pem");
  gint64 exp = now_s () - 10;

  c = g_strdup_printf ("{\"sub\":\"u\",\"name\":\"n\",\"org\":\"o\",\"role\":\"viewer\","
                       "\"exp\":%" G_GINT64_FORMAT "}",
                       exp);
  token = sign_hs (c);
  assert_refused (auth, token, PRD_ERROR_TOKEN_EXPIRED, "Token expired");

  /* The boundary: valid up to the second before exp. */
  identity = prd_auth_verify_at (auth, token, exp - 1, &error);
  g_assert_no_error (error);
  g_assert_nonnull (identity);
  g_assert_null (prd_auth_verify_at (auth, token, exp, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_TOKEN_EXPIRED);
  g_clear_error (&error);

  g_assert_null (prd_auth_verify_at (rsa, rs, FAR_FUTURE + 1, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_TOKEN_EXPIRED);
}

static void
test_not_yet_valid (void)
{
  g_autoptr (PrdAuth) auth = hmac_auth ();
  g_autoptr (GError) error = NULL;
  g_autofree char *nbf_future = NULL;
  g_autofree char *nbf_skew = NULL;
  g_autofree char *iat_future = NULL;
  g_autofree char *nbf_past = NULL;
  g_autofree char *c = NULL;
  gint64 now = now_s ();

  c = g_strdup_printf ("\"nbf\":%" G_GINT64_FORMAT, now + 3600);
  {
    g_autofree char *cl = claims (c);
    nbf_future = sign_hs (cl);
  }
  assert_auth_failed (auth, nbf_future, "Token is not valid yet");

  g_free (c);
  c = g_strdup_printf ("\"iat\":%" G_GINT64_FORMAT, now + 3600);
  {
    g_autofree char *cl = claims (c);
    iat_future = sign_hs (cl);
  }
  assert_auth_failed (auth, iat_future, "Token was issued in the future");

  /* Within the leeway, clock skew is forgiven. */
  g_free (c);
  c = g_strdup_printf ("\"nbf\":%" G_GINT64_FORMAT ",\"iat\":%" G_GINT64_FORMAT, now + 10,
                       now + 10);
  {
    g_autofree char *cl = claims (c);
    g_autoptr (PrdIdentity) identity = NULL;

    nbf_skew = sign_hs (cl);
    identity = prd_auth_verify_at (auth, nbf_skew, now, &error);
    g_assert_no_error (error);
    g_assert_nonnull (identity);
    g_assert_null (prd_auth_verify_at (auth, nbf_skew, now - PRD_AUTH_LEEWAY_SECONDS, &error));
    g_assert_error (error, PRD_ERROR, PRD_ERROR_AUTHENTICATION_FAILED);
    g_clear_error (&error);
  }

  g_free (c);
  c = g_strdup_printf ("\"nbf\":%" G_GINT64_FORMAT, now - 100);
  {
    g_autofree char *cl = claims (c);
    g_autoptr (PrdIdentity) identity = NULL;

    nbf_past = sign_hs (cl);
    identity = prd_auth_verify (auth, nbf_past, &error);
    g_assert_no_error (error);
  }
}

static void
test_claims (void)
{
  g_autoptr (PrdAuth) auth = hmac_auth ();
  gint64 exp = now_s () + 3600;
  struct
  {
    const char *body; /* claims; %s is replaced by a valid exp */
    const char *message;
  } cases[] = {
    { "{\"name\":\"n\",\"org\":\"o\",\"role\":\"viewer\",\"exp\":%s}",
      "Token has no \"sub\" claim" },
    { "{\"sub\":\"\",\"name\":\"n\",\"org\":\"o\",\"role\":\"viewer\",\"exp\":%s}",
      "Token claim \"sub\" is empty" },
    { "{\"sub\":42,\"name\":\"n\",\"org\":\"o\",\"role\":\"viewer\",\"exp\":%s}",
      "Token claim \"sub\" must be a string" },
    { "{\"sub\":null,\"name\":\"n\",\"org\":\"o\",\"role\":\"viewer\",\"exp\":%s}",
      "Token has no \"sub\" claim" },
    { "{\"sub\":\"hub\",\"name\":\"n\",\"org\":\"o\",\"role\":\"admin\",\"exp\":%s}",
      "Token claim \"sub\" names a user id the hub keeps for itself" },
    { "{\"sub\":\"ai\",\"name\":\"n\",\"org\":\"o\",\"role\":\"editor\",\"exp\":%s}",
      "Token claim \"sub\" names a user id the hub keeps for itself" },
    { "{\"sub\":\"u\",\"org\":\"o\",\"role\":\"viewer\",\"exp\":%s}",
      "Token has no \"name\" claim" },
    { "{\"sub\":\"u\",\"name\":5,\"org\":\"o\",\"role\":\"viewer\",\"exp\":%s}",
      "Token claim \"name\" must be a string" },
    { "{\"sub\":\"u\",\"name\":\"n\",\"role\":\"viewer\",\"exp\":%s}",
      "Token has no \"org\" claim" },
    { "{\"sub\":\"u\",\"name\":\"n\",\"org\":true,\"role\":\"viewer\",\"exp\":%s}",
      "Token claim \"org\" must be a string" },
    { "{\"sub\":\"u\",\"name\":\"n\",\"org\":\"o\",\"exp\":%s}", "Token has no \"role\" claim" },
    { "{\"sub\":\"u\",\"name\":\"n\",\"org\":\"o\",\"role\":\"owner\",\"exp\":%s}",
      "Token claim \"role\" must be viewer, editor or admin" },
    { "{\"sub\":\"u\",\"name\":\"n\",\"org\":\"o\",\"role\":\"Admin\",\"exp\":%s}",
      "Token claim \"role\" must be viewer, editor or admin" },
    { "{\"sub\":\"u\",\"name\":\"n\",\"org\":\"o\",\"role\":[\"admin\"],\"exp\":%s}",
      "Token claim \"role\" must be a string" },
    { "{\"sub\":\"u\",\"name\":\"n\",\"org\":\"o\",\"role\":\"viewer\",\"exp\":%s,\"avatar\":7}",
      "Token claim \"avatar\" must be a string" },
    { "{\"sub\":\"u\",\"name\":\"n\",\"org\":\"o\",\"role\":\"viewer\",\"exp\":%s,\"nbf\":\"x\"}",
      "Token claim \"nbf\" must be a number" },
    { "{\"sub\":\"u\",\"name\":\"n\",\"org\":\"o\",\"role\":\"viewer\",\"exp\":%s,\"iat\":{}}",
      "Token claim \"iat\" must be a number" },
    { "{\"sub\":\"u\",\"name\":\"n\",\"org\":\"o\",\"role\":\"viewer\",\"x\":%s}",
      "Token has no \"exp\" claim" },
    { "{\"sub\":\"u\",\"name\":\"n\",\"org\":\"o\",\"role\":\"viewer\",\"exp\":\"%s\"}",
      "Token claim \"exp\" must be a number" },
    { "{\"sub\":\"u\",\"name\":\"n\",\"org\":\"o\",\"role\":\"viewer\",\"exp\":[%s]}",
      "Token claim \"exp\" must be a number" },
    { "{\"sub\":\"u\",\"name\":\"n\",\"org\":\"o\",\"role\":\"viewer\",\"exp\":true,\"y\":%s}",
      "Token claim \"exp\" must be a number" },
    { "{\"sub\":\"u\",\"name\":\"n\",\"org\":\"o\",\"role\":\"viewer\",\"exp\":1e300,\"y\":%s}",
      "Token claim \"exp\" is a number out of range (seconds since 1970 expected)" },
    { "{\"sub\":\"u\",\"name\":\"n\",\"org\":\"o\",\"role\":\"viewer\",\"exp\":-1e15,\"y\":%s}",
      "Token claim \"exp\" is a number out of range (seconds since 1970 expected)" },
    { "{\"sub\":\"u\",\"name\":\"n\",\"org\":\"o\",\"role\":\"viewer\",\"exp\":%s,\"nbf\":1e15}",
      "Token claim \"nbf\" is a number out of range (seconds since 1970 expected)" },
    { "{\"sub\":\"u\",\"name\":\"n\",\"org\":\"o\",\"role\":\"viewer\",\"exp\":%s,\"iat\":-1e300}",
      "Token claim \"iat\" is a number out of range (seconds since 1970 expected)" },
    /* One rule for the identity's text, whatever later uses it (git authors,
     * room names, SQL rows). */
    { "{\"sub\":\"a>b\",\"name\":\"n\",\"org\":\"o\",\"role\":\"editor\",\"exp\":%s}",
      "Token claim \"sub\" must not contain '<' or '>'" },
    { "{\"sub\":\"a<b\",\"name\":\"n\",\"org\":\"o\",\"role\":\"editor\",\"exp\":%s}",
      "Token claim \"sub\" must not contain '<' or '>'" },
    { "{\"sub\":\"a\\nb\",\"name\":\"n\",\"org\":\"o\",\"role\":\"editor\",\"exp\":%s}",
      "Token claim \"sub\" must not contain control characters or line breaks" },
    { "{\"sub\":\"a\\u2028b\",\"name\":\"n\",\"org\":\"o\",\"role\":\"editor\",\"exp\":%s}",
      "Token claim \"sub\" must not contain control characters or line breaks" },
    { "{\"sub\":\" u\",\"name\":\"n\",\"org\":\"o\",\"role\":\"editor\",\"exp\":%s}",
      "Token claim \"sub\" must not start or end with white space" },
    { "{\"sub\":\"u\",\"name\":\"n\",\"org\":\"\",\"role\":\"editor\",\"exp\":%s}",
      "Token claim \"org\" is empty" },
    { "{\"sub\":\"u\",\"name\":\"n\",\"org\":\"o\\nx\",\"role\":\"editor\",\"exp\":%s}",
      "Token claim \"org\" must not contain control characters or line breaks" },
    { "{\"sub\":\"u\",\"name\":\"n\",\"org\":\"o \",\"role\":\"editor\",\"exp\":%s}",
      "Token claim \"org\" must not start or end with white space" },
    { "{\"sub\":\"u\",\"name\":\"Ann <x@y>\",\"org\":\"o\",\"role\":\"editor\",\"exp\":%s}",
      "Token claim \"name\" must not contain '<' or '>'" },
    { "{\"sub\":\"u\",\"name\":\"a\\u0007\",\"org\":\"o\",\"role\":\"editor\",\"exp\":%s}",
      "Token claim \"name\" must not contain control characters or line breaks" },
    { "{\"sub\":\"u\",\"name\":\"n\",\"org\":\"o\",\"role\":\"editor\",\"exp\":%s,"
      "\"avatar\":\"http://x/\\r\\nSet-Cookie: a\"}",
      "Token claim \"avatar\" must not contain control characters or line breaks" },
  };
  g_autofree char *exp_str = g_strdup_printf ("%" G_GINT64_FORMAT, exp);

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GString) body = g_string_new (cases[i].body);
      g_autofree char *token = NULL;
      g_autofree char *header = NULL;
      g_autofree char *payload = NULL;
      g_autofree char *signing_input = NULL;
      g_autofree char *mac = NULL;
      g_autoptr (GHmac) hmac = NULL;
      guint8 digest[32];
      gsize digest_len = sizeof digest;
      g_autofree char *sig64 = NULL;
      GString *sig = g_string_new (NULL);

      g_test_message ("case %u: %s", i, cases[i].body);
      g_string_replace (body, "%s", exp_str, 1);
      /* Signed here rather than by libjwt, which normalizes the claims JSON. */
      header = b64url ("{\"alg\":\"HS256\",\"typ\":\"JWT\"}");
      payload = b64url (body->str);
      signing_input = g_strdup_printf ("%s.%s", header, payload);
      hmac = g_hmac_new (G_CHECKSUM_SHA256, (const guchar *) SECRET, strlen (SECRET));
      g_hmac_update (hmac, (const guchar *) signing_input, -1);
      g_hmac_get_digest (hmac, digest, &digest_len);
      sig64 = g_base64_encode (digest, digest_len);
      for (const char *p = sig64; *p != '\0' && *p != '='; p++)
        g_string_append_c (sig, *p == '+' ? '-' : *p == '/' ? '_' : *p);
      mac = g_string_free (sig, FALSE);
      token = g_strdup_printf ("%s.%s", signing_input, mac);
      assert_auth_failed (auth, token, cases[i].message);
    }
}

static void
test_bad_keys (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *priv = NULL;
  g_autofree char *ed = NULL;
  g_autofree char *missing = data_path ("no-such-key.pem");
  g_autoptr (GBytes) short_secret = g_bytes_new_static ("short", 5);
  gsize len;
  const char *not_b64 = "-----BEGIN PUBLIC KEY-----\n!!!!\n-----END PUBLIC KEY-----\n";
  const char *not_der = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n";

  g_assert_null (prd_auth_new_hmac (short_secret, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_CONFIG);
  g_clear_error (&error);

  priv = read_data ("rsa-private.pem", &len);
  g_assert_null (prd_auth_new_public_key (priv, len, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_CONFIG);
  g_assert_true (strstr (error->message, "PUBLIC KEY") != NULL);
  g_clear_error (&error);

  ed = read_data ("ed25519-public.pem", &len);
  g_assert_null (prd_auth_new_public_key (ed, len, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_CONFIG);
  g_assert_cmpstr (error->message, ==, "The JWT public key is neither an RSA nor an EC key");
  g_clear_error (&error);

  g_assert_null (prd_auth_new_public_key (not_b64, strlen (not_b64), &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_CONFIG);
  g_clear_error (&error);

  g_assert_null (prd_auth_new_public_key (not_der, strlen (not_der), &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_CONFIG);
  g_assert_cmpstr (error->message, ==, "The JWT public key is not a valid SubjectPublicKeyInfo");
  g_clear_error (&error);

  g_assert_null (prd_auth_new_public_key_file (missing, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_CONFIG);
}

static void
test_mint_errors (void)
{
  g_autoptr (PrdAuth) hmac = hmac_auth ();
  g_autoptr (PrdAuth) rsa = key_auth ("rsa-public.pem");
  g_autoptr (PrdIdentity) ok =
      prd_identity_new ("u", "n", NULL, "o", PRD_ROLE_VIEWER, now_s () + 60);
  g_autoptr (PrdIdentity) past = prd_identity_new ("u", "n", NULL, "o", PRD_ROLE_VIEWER, now_s ());
  g_autoptr (PrdIdentity) no_user =
      prd_identity_new ("", "n", NULL, "o", PRD_ROLE_VIEWER, now_s () + 60);
  g_autoptr (PrdIdentity) reserved =
      prd_identity_new (PRD_AUTH_AI_USER_ID, "n", NULL, "o", PRD_ROLE_EDITOR, now_s () + 60);
  g_autoptr (PrdIdentity) bracket =
      prd_identity_new ("u>x", "n", NULL, "o", PRD_ROLE_EDITOR, now_s () + 60);
  g_autoptr (PrdIdentity) org_newline =
      prd_identity_new ("u", "n", NULL, "o\nx", PRD_ROLE_EDITOR, now_s () + 60);
  g_autoptr (GError) error = NULL;

  g_assert_null (prd_auth_mint (rsa, ok, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_CONFIG);
  g_clear_error (&error);
  g_assert_null (prd_auth_mint (hmac, past, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD);
  g_clear_error (&error);
  g_assert_null (prd_auth_mint (hmac, no_user, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD);
  g_clear_error (&error);
  g_assert_null (prd_auth_mint (hmac, reserved, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD);
  g_clear_error (&error);
  /* Minting follows the rule that verification applies. */
  g_assert_null (prd_auth_mint (hmac, bracket, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD);
  g_assert_cmpstr (error->message, ==, "claim \"sub\" must not contain '<' or '>'");
  g_clear_error (&error);
  g_assert_null (prd_auth_mint (hmac, org_newline, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD);
}

static void
test_roles (void)
{
  PrdRole role;

  g_assert_true (prd_role_from_string ("viewer", &role));
  g_assert_cmpint (role, ==, PRD_ROLE_VIEWER);
  g_assert_true (prd_role_from_string ("editor", &role));
  g_assert_cmpint (role, ==, PRD_ROLE_EDITOR);
  g_assert_true (prd_role_from_string ("admin", &role));
  g_assert_cmpint (role, ==, PRD_ROLE_ADMIN);
  g_assert_false (prd_role_from_string ("root", &role));
  g_assert_false (prd_role_from_string (NULL, &role));
  g_assert_cmpstr (prd_role_to_string (PRD_ROLE_EDITOR), ==, "editor");
}

/* ---- configuration ---- */

/* A configuration that is not UTF-8 is refused up front, naming the line
 * (its group names and values would otherwise be quoted in error messages
 * that are not UTF-8 either: found by tests/fuzz/fuzz-config.c). */
static void
test_config_not_utf8 (void)
{
  static const char text[] = "[server]\nlisten = 127.0.0.1:3000\n[unkno\xff\xfewn]\nkey = v\n";
  g_autoptr (PrdHubConfig) config = prd_hub_config_new ();
  g_autoptr (PrdHubConfig) from_file = prd_hub_config_new ();
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("prd-config-utf8-XXXXXX", NULL);
  g_autofree char *path = NULL;

  g_assert_nonnull (dir);
  path = g_build_filename (dir, "hub.conf", NULL);

  g_assert_false (prd_hub_config_load_data (config, text, -1, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_CONFIG);
  g_assert_true (g_utf8_validate (error->message, -1, NULL));
  g_assert_nonnull (strstr (error->message, "line 3 is not UTF-8"));
  g_clear_error (&error);

  g_assert_true (g_file_set_contents (path, text, -1, &error));
  g_assert_false (prd_hub_config_load_file (from_file, path, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_CONFIG);
  g_assert_true (g_utf8_validate (error->message, -1, NULL));
  g_assert_nonnull (strstr (error->message, "line 3 is not UTF-8"));
  g_assert_cmpint (g_unlink (path), ==, 0);
  g_assert_cmpint (g_rmdir (dir), ==, 0);
}

static void
test_config_defaults (void)
{
  g_autoptr (PrdHubConfig) config = prd_hub_config_new ();
  g_autoptr (GError) error = NULL;
  g_autofree char *data_dir = g_build_filename (g_get_user_data_dir (), "prdhub", NULL);
  g_autofree char *listen =
      prd_hub_server_config_get_listen_string (prd_hub_config_get_server (config));
  const PrdRateLimit *limit;

  g_assert_cmpstr (listen, ==, "127.0.0.1:3000");
  g_assert_cmpstr (prd_hub_config_get_server (config)->data_dir, ==, data_dir);
  g_assert_null (prd_hub_config_get_server (config)->tls_cert);
  g_assert_null (prd_hub_config_get_auth (config)->jwt_public_key);
  g_assert_null (prd_hub_config_get_server (config)->cors_origins);
  g_assert_cmpuint (prd_hub_config_get_engine (config)->ping_interval, ==, 25000);
  g_assert_cmpuint (prd_hub_config_get_engine (config)->ping_timeout, ==, 20000);
  g_assert_cmpuint (prd_hub_config_get_engine (config)->max_payload, ==, 1000000);
  g_assert_cmpuint (prd_hub_config_get_server (config)->max_request_body, ==, 2 * 1024 * 1024);
  g_assert_cmpuint (prd_hub_config_get_engine (config)->connect_timeout, ==, 45000);
  limit = prd_hub_rate_limit_config_lookup (prd_hub_config_get_rate_limits (config), "default");
  g_assert_nonnull (limit);
  g_assert_cmpuint (limit->limit, ==, 100);
  g_assert_cmpuint (limit->window_seconds, ==, 10);
  g_assert_true (prd_hub_config_validate (config, &error));
  g_assert_no_error (error);
}

/* [server] listen-backlog, idle-timeout, request-timeout, max-connections,
 * max-connections-per-address, per-address-exempt */
static void
test_config_connection_limits (void)
{
  g_autoptr (PrdHubConfig) config = prd_hub_config_new ();
  g_autoptr (PrdHubConfig) empty = prd_hub_config_new ();
  g_autoptr (GError) error = NULL;

  g_assert_cmpuint (prd_hub_config_get_server (config)->listen_backlog, ==, 4096);
  g_assert_cmpuint (prd_hub_config_get_server (config)->idle_timeout, ==, 60);
  g_assert_cmpuint (prd_hub_config_get_server (config)->request_timeout, ==, 30);
  g_assert_cmpuint (prd_hub_config_get_server (config)->max_connections, ==, 0);
  g_assert_cmpuint (prd_hub_config_get_server (config)->max_connections_per_address, ==, 256);
  g_assert_cmpuint (g_strv_length (prd_hub_config_get_server (config)->per_address_exempt), ==, 2);
  g_assert_cmpstr (prd_hub_config_get_server (config)->per_address_exempt[0], ==, "127.0.0.0/8");
  g_assert_cmpstr (prd_hub_config_get_server (config)->per_address_exempt[1], ==, "::1");
  g_assert_cmpuint (prd_hub_config_get_idle_timeout_ms (config), ==, 60000);

  g_assert_true (
      prd_hub_config_load_data (config,
                                "[server]\n"
                                "listen-backlog = 123\n"
                                "idle-timeout = 5\n"
                                "request-timeout = 2\n"
                                "max-connections = 1000\n"
                                "max-connections-per-address = 0\n"
                                "per-address-exempt = 10.0.0.0/8; 192.168.1.7 ;fd00::/8\n"
                                "[engine]\n"
                                "ping-interval = 1000\n"
                                "ping-timeout = 500\n",
                                -1, &error));
  g_assert_no_error (error);
  g_assert_true (prd_hub_config_validate (config, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (prd_hub_config_get_server (config)->listen_backlog, ==, 123);
  g_assert_cmpuint (prd_hub_config_get_server (config)->idle_timeout, ==, 5);
  g_assert_cmpuint (prd_hub_config_get_server (config)->request_timeout, ==, 2);
  g_assert_cmpuint (prd_hub_config_get_server (config)->max_connections, ==, 1000);
  g_assert_cmpuint (prd_hub_config_get_server (config)->max_connections_per_address, ==, 0);
  g_assert_cmpuint (g_strv_length (prd_hub_config_get_server (config)->per_address_exempt), ==, 3);
  g_assert_cmpstr (prd_hub_config_get_server (config)->per_address_exempt[1], ==, "192.168.1.7");
  g_assert_cmpuint (prd_hub_config_get_idle_timeout_ms (config), ==, 5000);

  /* An idle connection outlives a polling client's quiet time. */
  g_assert_true (prd_hub_config_load_data (config, "[engine]\nping-interval = 9000\n", -1, &error));
  g_assert_cmpuint (prd_hub_config_get_idle_timeout_ms (config), ==, 9500);

  /* Nothing exempt */
  g_assert_true (prd_hub_config_load_data (empty, "[server]\nper-address-exempt =\n", -1, &error));
  g_assert_no_error (error);
  g_assert_true (prd_hub_config_get_server (empty)->per_address_exempt == NULL ||
                 prd_hub_config_get_server (empty)->per_address_exempt[0] == NULL);
}

static void
test_config_valid_file (void)
{
  g_autoptr (PrdHubConfig) config = prd_hub_config_new ();
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("prd-config-XXXXXX", &error);
  g_autofree char *path = g_build_filename (dir, "hub.conf", NULL);
  g_autofree char *cert = g_build_filename (dir, "cert.pem", NULL);
  g_autofree char *key = g_build_filename (dir, "key.pem", NULL);
  g_autofree char *data = g_build_filename (dir, "data", NULL);
  g_autofree char *pub = data_path ("rsa-public.pem");
  g_autofree char *text = NULL;
  g_autofree char *listen = NULL;
  const PrdRateLimit *limit;

  g_assert_no_error (error);
  g_file_set_contents (cert, "x", -1, &error);
  g_assert_no_error (error);
  g_file_set_contents (key, "x", -1, &error);
  g_assert_no_error (error);
  text = g_strdup_printf ("# a comment\n"
                          "[server]\n"
                          "listen = 0.0.0.0:8443\n"
                          "data-dir = data\n"
                          "tls-cert = cert.pem\n"
                          "tls-key = %s\n"
                          "cors-origins = http://localhost:5173;https://prd.example.com:8443\n"
                          "max-request-body = 65536\n"
                          "[engine]\n"
                          "ping-interval = 10000\n"
                          "ping-timeout = 5000\n"
                          "max-payload = 2000000\n"
                          "max-write-buffer = 8000000\n"
                          "connect-timeout = 30000\n"
                          "io-threads = 3\n"
                          "[auth]\n"
                          "jwt-public-key = %s\n"
                          "[rate-limit]\n"
                          "default = 50/5\n"
                          "edits = 600 / 60\n"
                          "[rate-limit.events]\n"
                          "content-update = edits\n"
                          "presence-update = edits\n",
                          key, pub);
  g_file_set_contents (path, text, -1, &error);
  g_assert_no_error (error);

  g_assert_true (prd_hub_config_load_file (config, path, &error));
  g_assert_no_error (error);
  g_assert_true (prd_hub_config_validate (config, &error));
  g_assert_no_error (error);

  listen = prd_hub_server_config_get_listen_string (prd_hub_config_get_server (config));
  g_assert_cmpstr (listen, ==, "0.0.0.0:8443");
  g_assert_cmpstr (prd_hub_config_get_server (config)->data_dir, ==, data);
  g_assert_cmpstr (prd_hub_config_get_server (config)->tls_cert, ==, cert);
  g_assert_cmpstr (prd_hub_config_get_server (config)->tls_key, ==, key);
  g_assert_cmpstr (prd_hub_config_get_auth (config)->jwt_public_key, ==, pub);
  g_assert_cmpuint (g_strv_length (prd_hub_config_get_server (config)->cors_origins), ==, 2);
  g_assert_cmpstr (prd_hub_config_get_server (config)->cors_origins[1], ==,
                   "https://prd.example.com:8443");
  g_assert_cmpuint (prd_hub_config_get_server (config)->max_request_body, ==, 65536);
  g_assert_cmpuint (prd_hub_config_get_engine (config)->ping_interval, ==, 10000);
  g_assert_cmpuint (prd_hub_config_get_engine (config)->ping_timeout, ==, 5000);
  g_assert_cmpuint (prd_hub_config_get_engine (config)->max_payload, ==, 2000000);
  g_assert_cmpuint (prd_hub_config_get_engine (config)->max_write_buffer, ==, 8000000);
  g_assert_cmpuint (prd_hub_config_get_engine (config)->connect_timeout, ==, 30000);
  g_assert_cmpuint (prd_hub_config_get_engine (config)->io_threads, ==, 3);
  g_assert_cmpuint (prd_hub_config_get_engine (config)->max_json_values, ==,
                    PRD_HUB_CONFIG_DEFAULT_MAX_JSON_VALUES);
  g_assert_true (prd_hub_config_set (config, "engine", "max-json-values", "200000", &error));
  g_assert_no_error (error);
  g_assert_cmpuint (prd_hub_config_get_engine (config)->max_json_values, ==, 200000);
  /* "auto" and the default: the processors beyond two, at most 4. */
  g_assert_true (prd_hub_config_set (config, "engine", "io-threads", "auto", &error));
  g_assert_no_error (error);
  g_assert_cmpuint (prd_hub_config_get_engine (config)->io_threads, ==,
                    prd_hub_config_default_io_threads ());
  g_assert_cmpuint (prd_hub_config_default_io_threads (), ==,
                    g_get_num_processors () > 2 ? MIN (g_get_num_processors () - 2, 4) : 0);
  limit = prd_hub_rate_limit_config_lookup (prd_hub_config_get_rate_limits (config), "default");
  g_assert_cmpuint (limit->limit, ==, 50);
  g_assert_cmpuint (limit->window_seconds, ==, 5);
  limit = prd_hub_rate_limit_config_lookup (prd_hub_config_get_rate_limits (config), "edits");
  g_assert_cmpuint (limit->limit, ==, 600);
  g_assert_cmpuint (limit->window_seconds, ==, 60);
  g_assert_cmpstr (g_hash_table_lookup (prd_hub_config_get_rate_limits (config)->event_classes,
                                        "content-update"),
                   ==, "edits");

  /* Command-line style overrides after the file */
  g_assert_true (prd_hub_config_set (config, "server", "listen", "[::1]:0", &error));
  g_assert_no_error (error);
  g_free (listen);
  listen = prd_hub_server_config_get_listen_string (prd_hub_config_get_server (config));
  g_assert_cmpstr (listen, ==, "[::1]:0");
  g_assert_true (prd_hub_config_set (config, "server", "listen", "localhost:9000", &error));
  g_assert_cmpstr (prd_hub_config_get_server (config)->listen_host, ==, "localhost");
  g_assert_cmpuint (prd_hub_config_get_server (config)->listen_port, ==, 9000);

  g_unlink (cert);
  g_unlink (key);
  g_unlink (path);
  g_rmdir (dir);
}

static void
test_config_invalid (void)
{
  struct
  {
    const char *text;
    const char *message; /* the error message must contain this */
  } cases[] = {
    { "[server\nlisten=1", "Invalid configuration" },
    { "[servers]\nlisten = 127.0.0.1:1\n", "Unknown group [servers]" },
    { "[server]\nport = 3000\n", "Unknown key \"port\" in [server]" },
    { "[engine]\nping = 3\n", "Unknown key \"ping\" in [engine]" },
    { "[auth]\nsecret = x\n", "Unknown key \"secret\" in [auth]" },
    { "[server]\nlisten = 127.0.0.1\n", "[server] listen: \"127.0.0.1\" is not HOST:PORT" },
    { "[server]\nlisten = 127.0.0.1:65536\n", "[server] listen: \"127.0.0.1:65536\"" },
    { "[server]\nlisten = 127.0.0.1:-1\n", "[server] listen: " },
    { "[server]\nlisten = 127.0.0.1:80x\n", "[server] listen: " },
    { "[server]\nlisten = example.com:80\n", "[server] listen: \"example.com:80\"" },
    { "[server]\nlisten = ::1:80\n", "[server] listen: " },
    { "[server]\nlisten = [::1]80\n", "[server] listen: " },
    { "[server]\nlisten = [127.0.0.1]:80\n", "[server] listen: " },
    { "[server]\nlisten = :80\n", "[server] listen: " },
    { "[server]\ndata-dir =\n", "data-dir: a path is required" },
    { "[server]\ncors-origins = ftp://x\n", "[server] cors-origins: \"ftp://x\"" },
    { "[server]\ncors-origins = http://x/path\n", "[server] cors-origins: \"http://x/path\"" },
    { "[server]\ncors-origins = http://x/\n", "[server] cors-origins: \"http://x/\"" },
    { "[server]\ncors-origins = http://user@x\n", "[server] cors-origins: " },
    { "[server]\ncors-origins = *;http://a\n", "cannot be combined" },
    { "[engine]\nping-interval = abc\n", "[engine] ping-interval: \"abc\" is not a whole number" },
    { "[engine]\nping-interval = 0\n", "[engine] ping-interval" },
    { "[engine]\nping-timeout = 3600001\n", "[engine] ping-timeout" },
    { "[engine]\nconnect-timeout = -5\n", "[engine] connect-timeout" },
    { "[engine]\nmax-payload = 10\n", "[engine] max-payload" },
    { "[engine]\nmax-payload = 1e6\n", "[engine] max-payload" },
    { "[engine]\nmax-write-buffer = 99999999999999\n", "[engine] max-write-buffer" },
    { "[engine]\nmax-write-buffer = 1000\n", "[engine] max-write-buffer" },
    { "[server]\nmax-request-body = 1023\n", "[server] max-request-body" },
    { "[server]\nmax-request-body = 268435457\n", "[server] max-request-body" },
    { "[server]\nmax-request-body = 2MiB\n", "[server] max-request-body: \"2MiB\"" },
    { "[rate-limit]\ndefault = 100\n",
      "[rate-limit] default: \"100\" is not LIMIT/WINDOW_SECONDS" },
    { "[rate-limit]\ndefault = 0/10\n", "[rate-limit] default: \"0/10\"" },
    { "[rate-limit]\ndefault = 10/0\n", "[rate-limit] default: \"10/0\"" },
    { "[rate-limit]\ndefault = a/b\n", "[rate-limit] default" },
    { "[rate-limit]\ndefault = 1/2/3\n", "[rate-limit] default" },
    { "[rate-limit]\ndefault = 1000001/10\n", "[rate-limit] default" },
    { "[rate-limit]\nedits = 10/86401\n", "[rate-limit] edits" },
    { "[rate-limit]\nbad.class = 10/10\n",
      "[rate-limit] bad.class: \"bad.class\" is not a valid class name" },
    { "[rate-limit.events]\ncontent-update = edits\n",
      "[rate-limit.events] content-update: class \"edits\" has no limit" },
    { "[rate-limit.events]\ncontent-update = a b\n",
      "[rate-limit.events] content-update: \"a b\" is not a valid class name" },
    { "[server]\ncors-origins = *;http://a\n",
      "[server] cors-origins: \"*\" cannot be combined with other origins" },
    /* An event the hub does not have, refused with the configuration (before
     * the data folder is touched), from the static list of its events. */
    { "[rate-limit.events]\npnig = default\n",
      "[rate-limit.events] pnig: the hub has no event \"pnig\"" },
    { "[rate-limit]\nchatty = 1/60\n[rate-limit.events]\nContent-Update = chatty\n",
      "the hub has no event \"Content-Update\"" },
    { "[server]\ntls-cert = /nonexistent/cert.pem\ntls-key = /nonexistent/key.pem\n",
      "tls-cert: /nonexistent/cert.pem does not exist" },
    { "[server]\ntls-key = /nonexistent/key.pem\n", "tls-key is set but tls-cert is not" },
    /* A device, a FIFO or a folder is not a missing file. */
    { "[server]\ntls-cert = /dev/null\ntls-key = /dev/null\n",
      "tls-cert: /dev/null is not a regular file" },
    { "[server]\ntls-cert = /etc/hostname\ntls-key = /dev/zero\n",
      "tls-key: /dev/zero is not a regular file" },
    { "[auth]\njwt-public-key = /\n", "jwt-public-key: / is not a regular file" },
    { "[auth]\njwt-public-key = /nonexistent/key.pem\n",
      "jwt-public-key: /nonexistent/key.pem does not exist" },
    { "[server]\nlisten-backlog = 0\n", "[server] listen-backlog: \"0\" is not a whole number" },
    { "[server]\nlisten-backlog = 65536\n", "[server] listen-backlog" },
    { "[server]\nlisten-backlog = lots\n", "[server] listen-backlog" },
    { "[server]\nidle-timeout = 0\n", "[server] idle-timeout: \"0\"" },
    { "[server]\nidle-timeout = 86401\n", "[server] idle-timeout" },
    { "[server]\nidle-timeout = 1.5\n", "[server] idle-timeout" },
    { "[server]\nrequest-timeout = 0\n", "[server] request-timeout: \"0\"" },
    { "[server]\nrequest-timeout = 3601\n", "[server] request-timeout" },
    { "[server]\nmax-connections = -1\n", "[server] max-connections: \"-1\"" },
    { "[server]\nmax-connections = 1000001\n", "[server] max-connections" },
    { "[server]\nmax-connections-per-address = x\n",
      "[server] max-connections-per-address: \"x\"" },
    { "[server]\nper-address-exempt = 127.0.0.1;localhost\n",
      "[server] per-address-exempt: \"localhost\" is not an IP address" },
    { "[server]\nper-address-exempt = 10.0.0.0/33\n",
      "[server] per-address-exempt: \"10.0.0.0/33\"" },
    { "[auth]\nrevocation-check-interval = 0\n", "[auth] revocation-check-interval" },
    { "[auth]\nrevocation-check-interval = 3601\n", "[auth] revocation-check-interval" },
    { "[engine]\nmax-sessions = 0\n", "[engine] max-sessions" },
    { "[engine]\nmax-sessions-per-address = x\n", "[engine] max-sessions-per-address" },
    { "[engine]\nmax-json-values = 1023\n", "[engine] max-json-values" },
    { "[engine]\nmax-json-values = 67108865\n", "[engine] max-json-values" },
    { "[engine]\nio-threads = 65\n", "[engine] io-threads" },
    { "[engine]\nio-threads = -1\n", "[engine] io-threads" },
    { "[engine]\nio-threads = many\n", "[engine] io-threads: \"many\"" },
    { "[collab]\nmax-joined-prds = 0\n", "[collab] max-joined-prds" },
    { "[collab]\nmax-open-rooms = 1000001\n", "[collab] max-open-rooms" },
    { "[collab]\nmax-pending-acks = -1\n", "[collab] max-pending-acks" },
    { "[collab]\nempty-room-grace = 3601\n", "[collab] empty-room-grace" },
    { "[collab]\nempty-room-grace = -1\n", "[collab] empty-room-grace" },
    { "[collab]\nmax-queued-loads = 0\n", "[collab] max-queued-loads" },
    { "[collab]\nmax-queued-loads = 1000001\n", "[collab] max-queued-loads" },
    /* GKeyFile would hide these: a localized key is never read, and a key
     * given twice (also under a second header of its group) keeps only its
     * last value. */
    { "[server]\nmax-request-body[de] = junk\n",
      "[server] max-request-body[de] (line 2): localized keys (KEY[LOCALE]) are not supported" },
    { "[ai]\nbase-url[fr] = not a url\n", "[ai] base-url[fr] (line 2): localized keys" },
    { "[collab]\nmax-document-size = junk\nmax-document-size = 1000\n",
      "[collab] max-document-size is set twice (lines 2 and 3)" },
    { "[server]\nmax-request-body = junk\n[engine]\nping-interval = 25000\n"
      "[server]\nmax-request-body = 4096\n",
      "[server] max-request-body is set twice (lines 2 and 6)" },
    { "[engine]\n  io-threads=1\n# io-threads = 2\n[engine]\nio-threads\t= 2\n",
      "[engine] io-threads is set twice (lines 2 and 5)" },
    /* Sizes in UTF-16 units must fit in the byte limits that carry them, at
     * 6 bytes of JSON per unit (a control character): one past each edge,
     * and the 3 bytes per unit the hub counted before. */
    { "[collab]\nmax-operation-size = 166497\n",
      "[collab] max-operation-size (166497) does not fit in [engine] max-payload (1000000)" },
    { "[collab]\nmax-operation-size = 332992\n",
      "max-payload must be at least 1998976 (or max-operation-size at most 166496)" },
    { "[engine]\nmax-payload = 25166847\n[collab]\nmax-operation-size = 4194304\n",
      "max-payload must be at least 25166848 (or max-operation-size at most 4194303)" },
    { "[engine]\nmax-write-buffer = 6291455\n",
      "[collab] max-document-size (1048576) does not fit in [engine] max-write-buffer (6291455)" },
    { "[engine]\nmax-write-buffer = 3145728\n",
      "max-write-buffer must be at least 6291456 (or max-document-size at most 524288)" },
    { "[engine]\nmax-payload = 16777216\n[collab]\nmax-document-size = 16777216\n",
      "max-write-buffer must be at least 100663296 (or max-document-size at most 2796202)" },
    /* A class no event is in would change nothing. */
    { "[rate-limit]\ncolab = 10/10\n", "[rate-limit] colab: no event is in class \"colab\"" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (PrdHubConfig) config = prd_hub_config_new ();
      g_autoptr (GError) error = NULL;

      g_test_message ("case %u: %s", i, cases[i].text);
      if (prd_hub_config_load_data (config, cases[i].text, -1, &error))
        prd_hub_config_validate (config, &error);
      g_assert_error (error, PRD_ERROR, PRD_ERROR_CONFIG);
      if (strstr (error->message, cases[i].message) == NULL)
        g_error ("case %u: \"%s\" does not contain \"%s\"", i, error->message, cases[i].message);
    }
}

/* A line the key-file syntax has no place for is named by its number and
 * what is wrong with it, never quoted: it may hold a secret (a URL with a
 * password, written `key: value`). */
static void
test_config_bad_line_not_quoted (void)
{
  const struct
  {
    const char *text;
    const char *message;
  } cases[] = {
    { "[ai]\nbase-url: https://user:SECRETPW@127.0.0.1/\n",
      "line 2 is neither KEY = VALUE, a [group] header nor a # comment" },
    { "# a comment\r\n[ai]\r\n\r\n  SECRETPW\r\n", "line 4 is neither KEY = VALUE" },
    { "[ai]\n= SECRETPW\n", "line 2: no key before its =" },
    { "[ai] SECRETPW\n", "line 1: a [group] header ends with ] and nothing after it" },
    { "[ai\n", "line 1: a [group] header ends with ]" },
    { "[ai]\nmodel = m\n[SECRETPW", "line 3: a [group] header" },
    /* A last line without \n keeps its \r, as GKeyFile reads it. */
    { "[server]\r\nlisten = 127.0.0.1:0\r\n[log-SECRETPW]\r", "line 3: a [group] header" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (PrdHubConfig) config = prd_hub_config_new ();
      g_autoptr (GError) error = NULL;

      g_test_message ("case %u: %s", i, cases[i].text);
      g_assert_false (prd_hub_config_load_data (config, cases[i].text, -1, &error));
      g_assert_error (error, PRD_ERROR, PRD_ERROR_CONFIG);
      if (strstr (error->message, cases[i].message) == NULL)
        g_error ("case %u: \"%s\" does not contain \"%s\"", i, error->message, cases[i].message);
      g_assert_null (strstr (error->message, "SECRETPW"));
    }

  /* What GKeyFile reads is still read: a header with blanks after it, a
   * value holding `:` and `[`. */
  {
    g_autoptr (PrdHubConfig) config = prd_hub_config_new ();
    g_autoptr (GError) error = NULL;

    g_assert_true (
        prd_hub_config_load_data (config, "  [ai] \t\r\n\tmodel = a:b[c]\r\n", -1, &error));
    g_assert_no_error (error);
  }
}

/* A group under two headers is one group: only a key given twice is refused.
 * A class that an event is mapped to, or a built-in one, may have a limit. */
static void
test_config_merged_groups (void)
{
  g_autoptr (PrdHubConfig) config = prd_hub_config_new ();
  g_autoptr (GError) error = NULL;

  g_assert_true (prd_hub_config_load_data (config,
                                           "[engine]\nio-threads = 1\n"
                                           "[collab]\nbatch-interval = 5\n"
                                           "[engine]\nping-interval = 1000\n"
                                           "[rate-limit]\nchatty = 20/60\nsync = 5/10\n"
                                           "[rate-limit.events]\nping = chatty\n",
                                           -1, &error));
  g_assert_no_error (error);
  g_assert_true (prd_hub_config_validate (config, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (prd_hub_config_get_engine (config)->io_threads, ==, 1);
  g_assert_cmpuint (prd_hub_config_get_engine (config)->ping_interval, ==, 1000);
  g_assert_cmpuint (prd_hub_config_get_collab (config)->batch_interval, ==, 5);
}

/* At the edges of the checks between [collab] and [engine] (and with the
 * defaults) a configuration is valid. */
static void
test_config_cross_limits (void)
{
  const char *valid[] = {
    "",
    "[collab]\nmax-operation-size = 166496\n",
    "[engine]\nmax-payload = 25166848\n[collab]\nmax-operation-size = 4194304\n",
    "[engine]\nmax-write-buffer = 6291456\n",
    "[engine]\nmax-write-buffer = 3145728\n[collab]\nmax-document-size = 524288\n",
    "[engine]\nmax-write-buffer = 100663296\n[collab]\nmax-document-size = 16777216\n",
  };

  for (guint i = 0; i < G_N_ELEMENTS (valid); i++)
    {
      g_autoptr (PrdHubConfig) config = prd_hub_config_new ();
      g_autoptr (GError) error = NULL;

      g_test_message ("case %u: %s", i, valid[i]);
      g_assert_true (prd_hub_config_load_data (config, valid[i], -1, &error));
      g_assert_no_error (error);
      g_assert_true (prd_hub_config_validate (config, &error));
      g_assert_no_error (error);
    }
}

/* A configuration is read from a regular file, and no further than its
 * limit plus one byte: a device or a FIFO would fill the memory or hold the
 * start up for ever. */
static void
test_config_bounded_file (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("prd-config-XXXXXX", &error);
  g_autofree char *fifo = g_build_filename (dir, "fifo", NULL);
  g_autofree char *at_limit = g_build_filename (dir, "at-limit.conf", NULL);
  g_autofree char *over_limit = g_build_filename (dir, "over-limit.conf", NULL);
  g_autofree char *text = g_malloc (PRD_HUB_CONFIG_MAX_FILE_SIZE + 1);
  const char *not_regular[] = { "/dev/zero", fifo };
  const char *tail = "\n[engine]\nio-threads = 3\n";

  g_assert_no_error (error);
  g_assert_cmpint (mkfifo (fifo, 0600), ==, 0);
  for (guint i = 0; i < G_N_ELEMENTS (not_regular); i++)
    {
      g_autoptr (PrdHubConfig) config = prd_hub_config_new ();
      g_autoptr (GError) local_error = NULL;
      g_autofree char *expected = g_strdup_printf ("%s: not a regular file", not_regular[i]);

      g_assert_false (prd_hub_config_load_file (config, not_regular[i], &local_error));
      g_assert_error (local_error, PRD_ERROR, PRD_ERROR_CONFIG);
      g_assert_true (g_str_has_prefix (local_error->message, expected));
    }

  /* At the limit: a comment that fills it, then a key. */
  memset (text, 'x', PRD_HUB_CONFIG_MAX_FILE_SIZE + 1);
  text[0] = '#';
  memcpy (text + PRD_HUB_CONFIG_MAX_FILE_SIZE - strlen (tail), tail, strlen (tail));
  text[PRD_HUB_CONFIG_MAX_FILE_SIZE] = '\n';
  g_file_set_contents (at_limit, text, PRD_HUB_CONFIG_MAX_FILE_SIZE, &error);
  g_assert_no_error (error);
  {
    g_autoptr (PrdHubConfig) config = prd_hub_config_new ();

    g_assert_true (prd_hub_config_load_file (config, at_limit, &error));
    g_assert_no_error (error);
    g_assert_cmpuint (prd_hub_config_get_engine (config)->io_threads, ==, 3);
  }
  /* One byte more (an empty line) */
  g_file_set_contents (over_limit, text, PRD_HUB_CONFIG_MAX_FILE_SIZE + 1, &error);
  g_assert_no_error (error);
  {
    g_autoptr (PrdHubConfig) config = prd_hub_config_new ();
    g_autofree char *expected = g_strdup_printf ("%s is larger than 16777216 bytes", over_limit);

    g_assert_false (prd_hub_config_load_file (config, over_limit, &error));
    g_assert_error (error, PRD_ERROR, PRD_ERROR_CONFIG);
    g_assert_cmpstr (error->message, ==, expected);
  }
  g_unlink (fifo);
  g_unlink (at_limit);
  g_unlink (over_limit);
  g_rmdir (dir);
}

static void
test_config_missing_file (void)
{
  g_autoptr (PrdHubConfig) config = prd_hub_config_new ();
  g_autoptr (GError) error = NULL;

  g_assert_false (prd_hub_config_load_file (config, "/nonexistent/prdhub.conf", &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_CONFIG);
  g_assert_true (g_str_has_prefix (error->message, "/nonexistent/prdhub.conf: "));
}

/* Errors of keys that do not go together name the file, as those of one
 * key do; without a file (command-line options only) they stay as they are. */
static void
test_config_cross_key_names_file (void)
{
  const char *cases[][2] = {
    /* The file itself: a key that exists. */
    { "[server]\ntls-key = hub.conf\n", "[server] tls-key is set but tls-cert is not" },
    { "[ai]\nbase-url = http://127.0.0.1:1/v1\n", "[ai] base-url is set but model is not" },
    { "[rate-limit]\nchatty = 20/60\n", "[rate-limit] chatty: no event is in class \"chatty\"" },
    { "[rate-limit.events]\nping = nosuch\n",
      "[rate-limit.events] ping: class \"nosuch\" has no limit" },
    { "[collab]\nmax-operation-size = 1000000\n",
      "[collab] max-operation-size (1000000) does not fit in [engine] max-payload" },
  };
  g_autofree char *dir = g_dir_make_tmp ("prd-config-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "hub.conf", NULL);

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (PrdHubConfig) config = prd_hub_config_new ();
      g_autoptr (PrdHubConfig) from_data = prd_hub_config_new ();
      g_autoptr (GError) error = NULL;
      const char *text = cases[i][0];
      g_autofree char *expected = g_strdup_printf ("%s: %s", path, cases[i][1]);

      g_assert_true (g_file_set_contents (path, text, -1, NULL));
      g_assert_true (prd_hub_config_load_file (config, path, &error));
      g_assert_no_error (error);
      g_assert_false (prd_hub_config_validate (config, &error));
      g_assert_error (error, PRD_ERROR, PRD_ERROR_CONFIG);
      g_test_message ("%s", error->message);
      g_assert_true (g_str_has_prefix (error->message, expected));
      g_clear_error (&error);

      g_assert_true (prd_hub_config_load_data (from_data, text, -1, &error));
      g_assert_false (prd_hub_config_validate (from_data, &error));
      g_assert_true (g_str_has_prefix (error->message, cases[i][1]));
    }
  g_unlink (path);
  g_rmdir (dir);
}

/* ---- the JWT secret ---- */

static void
test_secret_created (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *tmp = g_dir_make_tmp ("prd-secret-XXXXXX", &error);
  g_autofree char *dir = g_build_filename (tmp, "a", "b", NULL);
  g_autofree char *path = g_build_filename (dir, PRD_HUB_SECRET_FILE, NULL);
  g_autoptr (GBytes) first = NULL;
  g_autoptr (GBytes) second = NULL;
  g_autofree char *contents = NULL;
  g_autoptr (GDir) listing = NULL;
  struct stat st;

  g_assert_no_error (error);
  first = prd_hub_secret_load_jwt (dir, &error);
  g_assert_no_error (error);
  g_assert_nonnull (first);

  g_assert_cmpint (g_stat (dir, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0700);
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);

  g_file_get_contents (path, &contents, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (strlen (contents), ==, 65);
  g_assert_cmpint (contents[64], ==, '\n');
  for (int i = 0; i < 64; i++)
    g_assert_true (g_ascii_isxdigit (contents[i]));
  g_assert_cmpmem (g_bytes_get_data (first, NULL), g_bytes_get_size (first), contents, 64);

  second = prd_hub_secret_load_jwt (dir, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (first, second));

  /* No temporary file left behind */
  listing = g_dir_open (dir, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (g_dir_read_name (listing), ==, PRD_HUB_SECRET_FILE);
  g_assert_null (g_dir_read_name (listing));

  g_unlink (path);
  g_rmdir (dir);
  g_free (contents);
  contents = g_path_get_dirname (dir);
  g_rmdir (contents);
  g_rmdir (tmp);
}

static void
test_secret_permissions (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("prd-secret-XXXXXX", &error);
  g_autofree char *path = g_build_filename (dir, PRD_HUB_SECRET_FILE, NULL);
  g_autofree char *link_path = g_build_filename (dir, "elsewhere", NULL);
  g_autoptr (GBytes) secret = NULL;

  g_assert_no_error (error);
  g_file_set_contents (path, "0123456789abcdef0123456789abcdef0123\n", -1, &error);
  g_assert_no_error (error);

  g_chmod (path, 0644);
  g_assert_null (prd_hub_secret_load_jwt (dir, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_CONFIG);
  g_assert_true (strstr (error->message, "accessible by group or others (mode 0644)") != NULL);
  g_assert_true (strstr (error->message, "chmod 600") != NULL);
  g_clear_error (&error);

  g_chmod (path, 0620);
  g_assert_null (prd_hub_secret_load_jwt (dir, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_CONFIG);
  g_clear_error (&error);

  g_chmod (path, 0600);
  secret = prd_hub_secret_load_jwt (dir, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_bytes_get_size (secret), ==, 36);

  /* Too short */
  g_file_set_contents (path, "abc\n", -1, &error);
  g_assert_no_error (error);
  g_chmod (path, 0600);
  g_assert_null (prd_hub_secret_load_jwt (dir, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_CONFIG);
  g_clear_error (&error);

  /* A symlink is not followed */
  g_rename (path, link_path);
  g_assert_cmpint (symlink (link_path, path), ==, 0);
  g_assert_null (prd_hub_secret_load_jwt (dir, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_CONFIG);
  g_clear_error (&error);

  g_unlink (path);
  g_unlink (link_path);
  g_rmdir (dir);
}

static void
test_secret_env (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("prd-secret-XXXXXX", &error);
  g_autofree char *path = g_build_filename (dir, PRD_HUB_SECRET_FILE, NULL);
  g_autoptr (GBytes) secret = NULL;

  g_assert_no_error (error);
  g_setenv (PRD_HUB_SECRET_ENV, SECRET, TRUE);
  secret = prd_hub_secret_load_jwt (dir, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (secret, NULL), g_bytes_get_size (secret), SECRET,
                   strlen (SECRET));
  /* The environment wins and nothing is written */
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));

  g_setenv (PRD_HUB_SECRET_ENV, "too-short", TRUE);
  g_assert_null (prd_hub_secret_load_jwt (dir, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_CONFIG);
  g_assert_true (strstr (error->message, PRD_HUB_SECRET_ENV) != NULL);

  g_unsetenv (PRD_HUB_SECRET_ENV);
  g_rmdir (dir);
}

int
main (int argc, char *argv[])
{
  static const char *const rs256[] = { "rsa-public.pem", "rs256-valid.jwt" };
  static const char *const rs512[] = { "rsa-public.pem", "rs512-valid.jwt" };
  static const char *const es256[] = { "ec256-public.pem", "es256-valid.jwt" };
  static const char *const es384[] = { "ec384-public.pem", "es384-valid.jwt" };

  g_unsetenv (PRD_HUB_SECRET_ENV);
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/prd/auth/hs256-valid", test_hs256_valid);
  g_test_add_func ("/prd/auth/sign-in-link", test_sign_in_link);
  g_test_add_data_func ("/prd/auth/rs256-valid", rs256, test_public_key_valid);
  g_test_add_data_func ("/prd/auth/rs512-valid", rs512, test_public_key_valid);
  g_test_add_data_func ("/prd/auth/es256-valid", es256, test_public_key_valid);
  g_test_add_data_func ("/prd/auth/es384-valid", es384, test_public_key_valid);
  g_test_add_func ("/prd/auth/es256-libjwt-signed", test_es256_libjwt_signed);
  g_test_add_func ("/prd/auth/missing", test_missing);
  g_test_add_func ("/prd/auth/too-long", test_too_long);
  g_test_add_func ("/prd/auth/malformed", test_malformed);
  g_test_add_func ("/prd/auth/alg-case-sensitive", test_alg_case_sensitive);
  g_test_add_func ("/prd/auth/bad-signature", test_bad_signature);
  g_test_add_func ("/prd/auth/alg-none", test_alg_none);
  g_test_add_func ("/prd/auth/key-confusion", test_key_confusion);
  g_test_add_func ("/prd/auth/wrong-family", test_wrong_family);
  g_test_add_func ("/prd/auth/expired", test_expired);
  g_test_add_func ("/prd/auth/revoked", test_revoked);
  g_test_add_func ("/prd/auth/not-yet-valid", test_not_yet_valid);
  g_test_add_func ("/prd/auth/claims", test_claims);
  g_test_add_func ("/prd/auth/bad-keys", test_bad_keys);
  g_test_add_func ("/prd/auth/mint-errors", test_mint_errors);
  g_test_add_func ("/prd/auth/roles", test_roles);
  g_test_add_func ("/prd/config/defaults", test_config_defaults);
  g_test_add_func ("/prd/config/not-utf8", test_config_not_utf8);
  g_test_add_func ("/prd/config/valid-file", test_config_valid_file);
  g_test_add_func ("/prd/config/connection-limits", test_config_connection_limits);
  g_test_add_func ("/prd/config/invalid", test_config_invalid);
  g_test_add_func ("/prd/config/missing-file", test_config_missing_file);
  g_test_add_func ("/prd/config/cross-key-names-file", test_config_cross_key_names_file);
  g_test_add_func ("/prd/config/merged-groups", test_config_merged_groups);
  g_test_add_func ("/prd/config/bad-line-not-quoted", test_config_bad_line_not_quoted);
  g_test_add_func ("/prd/config/bounded-file", test_config_bounded_file);
  g_test_add_func ("/prd/config/cross-limits", test_config_cross_limits);
  g_test_add_func ("/prd/secret/created", test_secret_created);
  g_test_add_func ("/prd/secret/permissions", test_secret_permissions);
  g_test_add_func ("/prd/secret/env", test_secret_env);

  return g_test_run ();
}
