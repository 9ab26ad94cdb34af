/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * PrdAuth verifies the JWT a client passes as Socket.IO `auth.token` and
 * turns it into a #PrdIdentity.
 *
 * libjwt 1.10 checks the signature with whatever algorithm the token's own
 * header names, and checks no claim at all. So the header is decoded here
 * first and its `alg` must belong to the one family this verifier was built
 * for: an HMAC verifier never sees an RSA/EC token and, more importantly, a
 * public key is never handed to libjwt for an HS* token (where it would be
 * used as the HMAC secret, the "key confusion" forgery). `none` is refused
 * outright. Time claims and the identity claims are checked here too.
 */
#define G_LOG_DOMAIN "prd-auth"

#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <jwt.h>
#include <json-glib/json-glib.h>

#include "prd-autocleanups.h"
#include "prd-error.h"
#include "prd-identity-text.h"
#include "prd-json.h"

#include "prd-auth.h"

typedef enum
{
  FAMILY_HMAC,
  FAMILY_RSA,
  FAMILY_EC,
} AlgFamily;

struct _PrdAuth
{
  GObject parent_instance;

  AlgFamily family;
  GBytes *key;      /* (owned): HMAC secret or PEM text */
  jwt_alg_t ec_alg; /* for FAMILY_EC: the one algorithm matching the curve */
  /* (owned): "org\nsub" → (gint64 *) the latest revocation of that user */
  GHashTable *revocations;
};

G_DEFINE_FINAL_TYPE (PrdAuth, prd_auth, G_TYPE_OBJECT)

G_DEFINE_BOXED_TYPE (PrdIdentity, prd_identity, prd_identity_copy, prd_identity_free)

static const char *const role_names[] = {
  [PRD_ROLE_VIEWER] = "viewer",
  [PRD_ROLE_EDITOR] = "editor",
  [PRD_ROLE_ADMIN] = "admin",
};

/**
 * prd_role_to_string:
 * @role: a #PrdRole
 *
 * Returns: (transfer none): the claim value, e.g. `"editor"`
 */
const char *
prd_role_to_string (PrdRole role)
{
  g_return_val_if_fail ((guint) role < G_N_ELEMENTS (role_names), NULL);

  return role_names[role];
}

/**
 * prd_role_from_string:
 * @str: a claim value
 * @role: (out) (optional): the role
 *
 * Returns: %TRUE if @str names a role (exact, lower case)
 */
gboolean
prd_role_from_string (const char *str, PrdRole *role)
{
  if (str == NULL)
    return FALSE;

  for (guint i = 0; i < G_N_ELEMENTS (role_names); i++)
    if (g_str_equal (str, role_names[i]))
      {
        if (role != NULL)
          *role = (PrdRole) i;
        return TRUE;
      }
  return FALSE;
}

/**
 * prd_identity_new:
 *
 * Returns: (transfer full): a new identity holding copies of the strings
 */
PrdIdentity *
prd_identity_new (const char *user_id,
                  const char *name,
                  const char *avatar,
                  const char *org,
                  PrdRole role,
                  gint64 exp)
{
  PrdIdentity *identity = g_new0 (PrdIdentity, 1);

  identity->user_id = g_strdup (user_id);
  identity->name = g_strdup (name);
  identity->avatar = g_strdup (avatar);
  identity->org = g_strdup (org);
  identity->role = role;
  identity->exp = exp;
  return identity;
}

PrdIdentity *
prd_identity_copy (const PrdIdentity *identity)
{
  PrdIdentity *copy;

  g_return_val_if_fail (identity != NULL, NULL);

  copy = prd_identity_new (identity->user_id, identity->name, identity->avatar, identity->org,
                           identity->role, identity->exp);
  copy->iat = identity->iat;
  return copy;
}

void
prd_identity_free (PrdIdentity *identity)
{
  if (identity == NULL)
    return;
  g_free (identity->user_id);
  g_free (identity->name);
  g_free (identity->avatar);
  g_free (identity->org);
  g_free (identity);
}

static void
prd_auth_finalize (GObject *object)
{
  PrdAuth *self = PRD_AUTH (object);

  g_clear_pointer (&self->key, g_bytes_unref);
  g_clear_pointer (&self->revocations, g_hash_table_unref);

  G_OBJECT_CLASS (prd_auth_parent_class)->finalize (object);
}

static void
prd_auth_class_init (PrdAuthClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = prd_auth_finalize;
}

static void
prd_auth_init (PrdAuth *self)
{
  self->ec_alg = JWT_ALG_INVAL;
  self->revocations = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
}

/**
 * prd_auth_new_hmac:
 * @secret: the shared secret, at least %PRD_AUTH_MIN_SECRET_LENGTH bytes
 *
 * A verifier for HS256/HS384/HS512 tokens signed with @secret.
 *
 * Returns: (transfer full): a new #PrdAuth, or %NULL with @error set
 */
PrdAuth *
prd_auth_new_hmac (GBytes *secret, GError **error)
{
  PrdAuth *self;

  g_return_val_if_fail (secret != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (g_bytes_get_size (secret) < PRD_AUTH_MIN_SECRET_LENGTH)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG,
                   "The JWT secret must be at least %d bytes long", PRD_AUTH_MIN_SECRET_LENGTH);
      return NULL;
    }

  self = g_object_new (PRD_TYPE_AUTH, NULL);
  self->family = FAMILY_HMAC;
  self->key = g_bytes_ref (secret);
  return self;
}

/* A minimal DER reader: enough to find the AlgorithmIdentifier of a
 * SubjectPublicKeyInfo, which says whether the key is RSA or EC and on which
 * curve. The key itself is parsed by libjwt (OpenSSL) at verification. */
static gboolean
der_read (const guint8 **pos, const guint8 *end, guint8 tag, const guint8 **content, gsize *len)
{
  const guint8 *p = *pos;
  gsize n;

  if (end - p < 2 || p[0] != tag)
    return FALSE;
  p++;
  if (*p < 0x80)
    n = *p++;
  else
    {
      guint n_bytes = *p++ & 0x7f;

      if (n_bytes == 0 || n_bytes > 3 || (gsize) (end - p) < n_bytes)
        return FALSE;
      n = 0;
      for (guint i = 0; i < n_bytes; i++)
        n = (n << 8) | *p++;
    }
  if ((gsize) (end - p) < n)
    return FALSE;
  *content = p;
  *len = n;
  *pos = p + n;
  return TRUE;
}

static gboolean
oid_equal (const guint8 *oid, gsize len, const guint8 *expected, gsize expected_len)
{
  return len == expected_len && memcmp (oid, expected, len) == 0;
}

static gboolean
classify_public_key (
    const char *pem, gsize len, AlgFamily *family, jwt_alg_t *ec_alg, GError **error)
{
  static const char begin[] = "-----BEGIN PUBLIC KEY-----";
  static const char end_marker[] = "-----END PUBLIC KEY-----";
  static const guint8 oid_rsa[] = { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01 };
  static const guint8 oid_ec[] = { 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01 };
  static const guint8 oid_p256[] = { 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };
  static const guint8 oid_p384[] = { 0x2b, 0x81, 0x04, 0x00, 0x22 };
  static const guint8 oid_p521[] = { 0x2b, 0x81, 0x04, 0x00, 0x23 };
  g_autofree char *text = g_strndup (pem, len);
  g_autofree guint8 *der = NULL;
  const char *start, *stop;
  const guint8 *pos, *der_end, *spki, *alg_id, *oid;
  gsize der_len, spki_len, alg_id_len, oid_len;
  g_autofree char *body = NULL;

  start = strstr (text, begin);
  stop = start != NULL ? strstr (start, end_marker) : NULL;
  if (start == NULL || stop == NULL)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG,
                   "The JWT public key must be a PEM \"PUBLIC KEY\" block "
                   "(SubjectPublicKeyInfo, as `openssl pkey -pubout` writes it)");
      return FALSE;
    }
  start += strlen (begin);
  body = g_strndup (start, (gsize) (stop - start));
  for (const char *p = body; *p != '\0'; p++)
    if (!g_ascii_isalnum (*p) && *p != '+' && *p != '/' && *p != '=' && !g_ascii_isspace (*p))
      {
        g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG,
                     "The JWT public key is not valid PEM (bad base64)");
        return FALSE;
      }
  der = g_base64_decode (body, &der_len);

  pos = der;
  der_end = der + der_len;
  if (!der_read (&pos, der_end, 0x30, &spki, &spki_len))
    goto bad;
  pos = spki;
  der_end = spki + spki_len;
  if (!der_read (&pos, der_end, 0x30, &alg_id, &alg_id_len))
    goto bad;
  pos = alg_id;
  der_end = alg_id + alg_id_len;
  if (!der_read (&pos, der_end, 0x06, &oid, &oid_len))
    goto bad;

  if (oid_equal (oid, oid_len, oid_rsa, sizeof oid_rsa))
    {
      *family = FAMILY_RSA;
      *ec_alg = JWT_ALG_INVAL;
      return TRUE;
    }
  if (oid_equal (oid, oid_len, oid_ec, sizeof oid_ec))
    {
      const guint8 *curve;
      gsize curve_len;

      if (!der_read (&pos, der_end, 0x06, &curve, &curve_len))
        goto bad;
      *family = FAMILY_EC;
      if (oid_equal (curve, curve_len, oid_p256, sizeof oid_p256))
        *ec_alg = JWT_ALG_ES256;
      else if (oid_equal (curve, curve_len, oid_p384, sizeof oid_p384))
        *ec_alg = JWT_ALG_ES384;
      else if (oid_equal (curve, curve_len, oid_p521, sizeof oid_p521))
        *ec_alg = JWT_ALG_ES512;
      else
        {
          g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG,
                       "The JWT public key is on an unsupported curve "
                       "(P-256, P-384 and P-521 are supported)");
          return FALSE;
        }
      return TRUE;
    }

  g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG,
               "The JWT public key is neither an RSA nor an EC key");
  return FALSE;

bad:
  g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG,
               "The JWT public key is not a valid SubjectPublicKeyInfo");
  return FALSE;
}

/**
 * prd_auth_new_public_key:
 * @pem: a PEM `PUBLIC KEY` block (RSA, or EC on P-256/P-384/P-521)
 * @len: length of @pem
 *
 * A verifier for tokens from an identity provider: RS256/RS384/RS512 for an
 * RSA key, ES256/ES384/ES512 (the one matching the curve) for an EC key.
 * HMAC tokens are never accepted by such a verifier.
 *
 * Returns: (transfer full): a new #PrdAuth, or %NULL with @error set
 */
PrdAuth *
prd_auth_new_public_key (const char *pem, gsize len, GError **error)
{
  PrdAuth *self;
  AlgFamily family;
  jwt_alg_t ec_alg;

  g_return_val_if_fail (pem != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (len > G_MAXINT / 2)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG, "The JWT public key is too large");
      return NULL;
    }
  if (!classify_public_key (pem, len, &family, &ec_alg, error))
    return NULL;

  self = g_object_new (PRD_TYPE_AUTH, NULL);
  self->family = family;
  self->ec_alg = ec_alg;
  self->key = g_bytes_new (pem, len);
  return self;
}

/**
 * prd_auth_new_public_key_file:
 * @path: a PEM file, see prd_auth_new_public_key()
 *
 * Returns: (transfer full): a new #PrdAuth, or %NULL with @error set
 */
PrdAuth *
prd_auth_new_public_key_file (const char *path, GError **error)
{
  g_autofree char *contents = NULL;
  g_autoptr (GError) local_error = NULL;
  gsize len;
  PrdAuth *self;

  g_return_val_if_fail (path != NULL, NULL);

  if (!g_file_get_contents (path, &contents, &len, &local_error))
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG, "Cannot read the JWT public key: %s",
                   local_error->message);
      return NULL;
    }
  self = prd_auth_new_public_key (contents, len, &local_error);
  if (self == NULL)
    g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG, "%s: %s", path, local_error->message);
  return self;
}

/**
 * prd_auth_get_algorithm_family:
 *
 * Returns: (transfer none): `"HS"`, `"RS"` or `"ES"`
 */
const char *
prd_auth_get_algorithm_family (PrdAuth *self)
{
  g_return_val_if_fail (PRD_IS_AUTH (self), NULL);

  switch (self->family)
    {
      case FAMILY_HMAC:
        return "HS";
      case FAMILY_RSA:
        return "RS";
      case FAMILY_EC:
        return "ES";
      default:
        g_assert_not_reached ();
    }
}

static gboolean
alg_accepted (PrdAuth *self, jwt_alg_t alg)
{
  switch (self->family)
    {
      case FAMILY_HMAC:
        return alg == JWT_ALG_HS256 || alg == JWT_ALG_HS384 || alg == JWT_ALG_HS512;
      case FAMILY_RSA:
        return alg == JWT_ALG_RS256 || alg == JWT_ALG_RS384 || alg == JWT_ALG_RS512;
      case FAMILY_EC:
        return alg == self->ec_alg;
      default:
        g_assert_not_reached ();
    }
}

/* The algorithm names an HS/RS/ES verifier accepts, spelled as they must be. */
static const char *
accepted_alg_names (PrdAuth *self)
{
  switch (self->family)
    {
      case FAMILY_HMAC:
        return "HS256, HS384 or HS512";
      case FAMILY_RSA:
        return "RS256, RS384 or RS512";
      case FAMILY_EC:
        return jwt_alg_str (self->ec_alg);
      default:
        g_assert_not_reached ();
    }
}

/* Whether @header's `alg` is `none` (in any case: refused as unsigned
 * whatever its spelling). */
static gboolean
header_alg_is_none (JsonObject *header)
{
  JsonNode *node = json_object_get_member (header, "alg");

  return node != NULL && JSON_NODE_HOLDS_VALUE (node) &&
         json_node_get_value_type (node) == G_TYPE_STRING &&
         g_ascii_strcasecmp (json_node_get_string (node), "none") == 0;
}

static gboolean
is_base64url (const char *p, gsize len)
{
  for (gsize i = 0; i < len; i++)
    if (!g_ascii_isalnum (p[i]) && p[i] != '-' && p[i] != '_')
      return FALSE;
  return TRUE;
}

/* Decodes one base64url (unpadded) segment as a JSON object. */
static JsonObject *
decode_segment (const char *segment, gsize len)
{
  g_autoptr (GString) b64 = g_string_new_len (segment, len);
  g_autoptr (JsonNode) root = NULL;
  g_autofree guchar *raw = NULL;
  gsize raw_len;

  if (len % 4 == 1)
    return NULL;
  for (gsize i = 0; i < b64->len; i++)
    if (b64->str[i] == '-')
      b64->str[i] = '+';
    else if (b64->str[i] == '_')
      b64->str[i] = '/';
  while (b64->len % 4 != 0)
    g_string_append_c (b64, '=');
  raw = g_base64_decode (b64->str, &raw_len);
  if (raw_len == 0 || !g_utf8_validate ((const char *) raw, (gssize) raw_len, NULL))
    return NULL;
  /* the decoded segment is shorter than the token, which is bounded */
  root = prd_json_parse ((const char *) raw, (gssize) raw_len, PRD_AUTH_MAX_TOKEN_LENGTH, NULL);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return NULL;
  return json_object_ref (json_node_get_object (root));
}

static gpointer
auth_failed (GError **error, const char *message)
{
  g_set_error_literal (error, PRD_ERROR, PRD_ERROR_AUTHENTICATION_FAILED, message);
  return NULL;
}

/* Numeric date claims may be integers or (rarely) fractional numbers; a
 * fractional one must be within ±10^15 seconds to convert exactly enough.
 * Sets an AUTHENTICATION_FAILED @error naming the claim when it is there but
 * unusable: not a number, or a number out of that range (as `1e300`). */
static gboolean
get_numeric_date (
    JsonObject *claims, const char *name, gboolean *present, gint64 *value, GError **error)
{
  JsonNode *node = json_object_get_member (claims, name);
  GType type;

  *present = node != NULL && !JSON_NODE_HOLDS_NULL (node);
  if (!*present)
    return TRUE;
  type = JSON_NODE_HOLDS_VALUE (node) ? json_node_get_value_type (node) : G_TYPE_INVALID;
  if (type == G_TYPE_INT64)
    {
      *value = json_node_get_int (node);
      return TRUE;
    }
  if (type == G_TYPE_DOUBLE)
    {
      double d = json_node_get_double (node);

      if (d > -1e15 && d < 1e15)
        {
          *value = (gint64) d;
          return TRUE;
        }
      g_set_error (error, PRD_ERROR, PRD_ERROR_AUTHENTICATION_FAILED,
                   "Token claim \"%s\" is a number out of range (seconds since 1970 expected)",
                   name);
      return FALSE;
    }
  g_set_error (error, PRD_ERROR, PRD_ERROR_AUTHENTICATION_FAILED,
               "Token claim \"%s\" must be a number", name);
  return FALSE;
}

/* Returns the claim if it is a string; %NULL if absent or JSON null. Sets
 * *bad when present with another type. */
static const char *
get_string_claim (JsonObject *claims, const char *name, gboolean *bad)
{
  JsonNode *node = json_object_get_member (claims, name);

  *bad = FALSE;
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return NULL;
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    {
      *bad = TRUE;
      return NULL;
    }
  return json_node_get_string (node);
}

static gboolean
check_required_string (
    JsonObject *claims, const char *name, gboolean non_empty, const char **value, GError **error)
{
  gboolean bad;

  *value = get_string_claim (claims, name, &bad);
  if (bad || *value == NULL)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_AUTHENTICATION_FAILED,
                   bad ? "Token claim \"%s\" must be a string" : "Token has no \"%s\" claim", name);
      return FALSE;
    }
  if (non_empty && **value == '\0')
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_AUTHENTICATION_FAILED, "Token claim \"%s\" is empty",
                   name);
      return FALSE;
    }
  return TRUE;
}

/* The one rule for the text of identity claims (prd-identity-text.c's, which a
 * new PRD's organization and owner follow too). */
static gboolean
check_claim_text (const char *claim,
                  const char *value,
                  gsize max_bytes,
                  gboolean required,
                  gboolean forbid_brackets,
                  GError **error)
{
  const char *why = prd_identity_text_check (value, max_bytes, required, forbid_brackets);
  gsize len = strlen (value);

  if (why == NULL)
    return TRUE;
  if (len > max_bytes)
    g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD, "claim \"%s\" %s (at most %zu bytes)",
                 claim, why, max_bytes);
  else
    g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD, "claim \"%s\" %s", claim, why);
  return FALSE;
}

/**
 * prd_identity_check_claims:
 * @user_id: the `sub` claim
 * @name: the `name` claim
 * @org: the `org` claim
 * @avatar: (nullable): the `avatar` claim
 *
 * The one rule for who a token may say its bearer is, applied when a token
 * is verified (sockets and REST alike) and when one is minted, so nothing
 * after authentication has to check an identity again:
 *
 * - `sub` and `org`: non-empty UTF-8 of at most %PRD_AUTH_MAX_ID_BYTES bytes;
 *   `name`: UTF-8 of at most %PRD_AUTH_MAX_NAME_BYTES bytes, may be empty; none of them
 *   with control characters, line breaks, `<` or `>` (they end up in git
 *   authors, `Name <sub@org>`), or white space at either end;
 * - `sub` is not one of the ids the hub writes under itself;
 * - `avatar`: empty or at most %PRD_AUTH_MAX_AVATAR_BYTES bytes of UTF-8
 *   without control characters.
 *
 * Returns: %TRUE if the claims are acceptable, otherwise %FALSE with
 *   %PRD_ERROR_INVALID_PAYLOAD whose message names the claim
 */
gboolean
prd_identity_check_claims (
    const char *user_id, const char *name, const char *org, const char *avatar, GError **error)
{
  g_return_val_if_fail (user_id != NULL && name != NULL && org != NULL, FALSE);

  if (!check_claim_text ("sub", user_id, PRD_AUTH_MAX_ID_BYTES, TRUE, TRUE, error) ||
      !check_claim_text ("org", org, PRD_AUTH_MAX_ID_BYTES, TRUE, TRUE, error) ||
      !check_claim_text ("name", name, PRD_AUTH_MAX_NAME_BYTES, FALSE, TRUE, error) ||
      (avatar != NULL &&
       !check_claim_text ("avatar", avatar, PRD_AUTH_MAX_AVATAR_BYTES, FALSE, FALSE, error)))
    return FALSE;
  if (g_str_equal (user_id, PRD_AUTH_HUB_USER_ID) || g_str_equal (user_id, PRD_AUTH_AI_USER_ID))
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
                           "claim \"sub\" names a user id the hub keeps for itself");
      return FALSE;
    }
  return TRUE;
}

/* Verifies @token as of @now: a session's token when @link_id is NULL,
 * else a sign-in link's, whose id goes to @link_id. */
static PrdIdentity *
verify (PrdAuth *self, const char *token, gint64 now, char **link_id, GError **error)
{
  g_autoptr (JsonObject) header = NULL;
  g_autoptr (JsonObject) claims = NULL;
  g_autoptr (jwt_t) jwt = NULL;
  const char *dot1, *dot2, *alg_name, *sub, *name, *org, *role_name, *avatar;
  gsize len;
  g_autoptr (GError) invalid = NULL;
  gboolean bad, present;
  gint64 exp = 0, nbf = 0, iat = 0;
  jwt_alg_t alg;
  PrdRole role;
  JsonNode *alg_node;
  g_autoptr (PrdIdentity) identity = NULL;

  if (token == NULL || *token == '\0')
    return auth_failed (error, "Missing token");
  len = strnlen (token, PRD_AUTH_MAX_TOKEN_LENGTH + 1);
  if (len > PRD_AUTH_MAX_TOKEN_LENGTH)
    return auth_failed (error, "Token too long");

  dot1 = strchr (token, '.');
  dot2 = dot1 != NULL ? strchr (dot1 + 1, '.') : NULL;
  /* RFC 7519 §6.1: an unsecured JWT is `header.payload.`, its signature
   * empty. It is refused for what it is, not for its shape. */
  if (dot2 != NULL && dot2[1] == '\0' && dot1 != token &&
      is_base64url (token, (gsize) (dot1 - token)))
    {
      g_autoptr (JsonObject) unsigned_header = decode_segment (token, (gsize) (dot1 - token));

      if (unsigned_header != NULL && header_alg_is_none (unsigned_header))
        return auth_failed (error, "Unsigned tokens are not accepted");
    }
  if (dot1 == NULL || dot2 == NULL || strchr (dot2 + 1, '.') != NULL || dot1 == token ||
      dot2 == dot1 + 1 || dot2[1] == '\0' || !is_base64url (token, (gsize) (dot1 - token)) ||
      !is_base64url (dot1 + 1, (gsize) (dot2 - dot1 - 1)) ||
      !is_base64url (dot2 + 1, strlen (dot2 + 1)))
    return auth_failed (error, "Malformed token");

  header = decode_segment (token, (gsize) (dot1 - token));
  if (header == NULL)
    return auth_failed (error, "Malformed token header");
  alg_node = json_object_get_member (header, "alg");
  if (alg_node == NULL || !JSON_NODE_HOLDS_VALUE (alg_node) ||
      json_node_get_value_type (alg_node) != G_TYPE_STRING)
    return auth_failed (error, "Token header has no algorithm");
  alg_name = json_node_get_string (alg_node);
  /* RFC 7515 §4.1.11: extensions marked critical must be understood; this
   * verifier understands none. */
  if (json_object_has_member (header, "crit"))
    return auth_failed (error, "Token header has unsupported critical extensions");
  if (header_alg_is_none (header))
    return auth_failed (error, "Unsigned tokens are not accepted");
  alg = jwt_str_alg (alg_name);
  /* RFC 7515 §4.1.1: `alg` is case-sensitive, but libjwt's jwt_str_alg()
   * is not: "hs256" is no algorithm at all. */
  if (alg != JWT_ALG_INVAL && strcmp (jwt_alg_str (alg), alg_name) != 0)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_AUTHENTICATION_FAILED,
                   "Token algorithm is not accepted (algorithm names are case-sensitive: "
                   "this hub accepts %s)",
                   accepted_alg_names (self));
      return NULL;
    }
  if (alg == JWT_ALG_INVAL || alg == JWT_ALG_NONE || !alg_accepted (self, alg))
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_AUTHENTICATION_FAILED,
                   "Token algorithm is not accepted (this hub accepts %s tokens only)",
                   self->family == FAMILY_EC ? jwt_alg_str (self->ec_alg)
                                             : prd_auth_get_algorithm_family (self));
      return NULL;
    }

  claims = decode_segment (dot1 + 1, (gsize) (dot2 - dot1 - 1));
  if (claims == NULL)
    return auth_failed (error, "Malformed token payload");

  if (jwt_decode (&jwt, token, g_bytes_get_data (self->key, NULL),
                  (int) g_bytes_get_size (self->key)) != 0 ||
      jwt == NULL)
    return auth_failed (error, "Invalid token signature");
  /* libjwt parsed the header on its own: make sure it verified with the
   * algorithm that was checked above. */
  if (jwt_get_alg (jwt) != alg)
    return auth_failed (error, "Invalid token signature");

  if (!get_numeric_date (claims, "exp", &present, &exp, error))
    return NULL;
  if (!present)
    return auth_failed (error, "Token has no \"exp\" claim");
  if (now >= exp)
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_TOKEN_EXPIRED, "Token expired");
      return NULL;
    }
  if (!get_numeric_date (claims, "nbf", &present, &nbf, error))
    return NULL;
  if (present && nbf > now + PRD_AUTH_LEEWAY_SECONDS)
    return auth_failed (error, "Token is not valid yet");
  if (!get_numeric_date (claims, "iat", &present, &iat, error))
    return NULL;
  if (present && iat > now + PRD_AUTH_LEEWAY_SECONDS)
    return auth_failed (error, "Token was issued in the future");

  if (!check_required_string (claims, "sub", FALSE, &sub, error) ||
      !check_required_string (claims, "name", FALSE, &name, error) ||
      !check_required_string (claims, "org", FALSE, &org, error) ||
      !check_required_string (claims, "role", FALSE, &role_name, error))
    return NULL;
  if (!prd_role_from_string (role_name, &role))
    return auth_failed (error, "Token claim \"role\" must be viewer, editor or admin");
  avatar = get_string_claim (claims, "avatar", &bad);
  if (bad)
    return auth_failed (error, "Token claim \"avatar\" must be a string");
  if (!prd_identity_check_claims (sub, name, org, avatar, &invalid))
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_AUTHENTICATION_FAILED, "Token %s", invalid->message);
      return NULL;
    }

  /* A sign-in link's token opens its link once (prd_auth_verify_link_at())
   * and is nothing else: it may be left in a browser's history. */
  if (link_id == NULL && json_object_has_member (claims, PRD_AUTH_LINK_CLAIM))
    return auth_failed (error, "This token is a sign-in link's: open the link to sign in");
  if (link_id != NULL)
    {
      const char *id = get_string_claim (claims, PRD_AUTH_LINK_CLAIM, &bad);

      if (id == NULL || !g_uuid_string_is_valid (id))
        return auth_failed (error, "This token is not a sign-in link's");
      *link_id = g_strdup (id);
    }

  identity = prd_identity_new (sub, name, avatar, org, role, exp);
  identity->iat = iat;
  if (prd_auth_is_revoked (self, identity))
    {
      if (link_id != NULL)
        g_clear_pointer (link_id, g_free);
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_TOKEN_REVOKED, "Token revoked");
      return NULL;
    }
  return g_steal_pointer (&identity);
}

/**
 * prd_auth_verify_at:
 * @token: (nullable): the compact JWS from the client
 * @now: the current time, seconds since the Unix epoch
 *
 * Verifies @token as of @now. Every failure is %PRD_ERROR_AUTHENTICATION_FAILED
 * with a message saying why, except an expired token, which is
 * %PRD_ERROR_TOKEN_EXPIRED "Token expired", and a revoked one (see
 * prd_auth_revoke()), %PRD_ERROR_TOKEN_REVOKED "Token revoked". A sign-in
 * link's token (prd_auth_mint_link()) is refused.
 *
 * Returns: (transfer full): the identity, or %NULL with @error set
 */
PrdIdentity *
prd_auth_verify_at (PrdAuth *self, const char *token, gint64 now, GError **error)
{
  g_return_val_if_fail (PRD_IS_AUTH (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return verify (self, token, now, NULL, error);
}

/**
 * prd_auth_verify_link_at:
 * @token: (nullable): the token of a sign-in link
 * @now: the current time, seconds since the Unix epoch
 * @link_id: (out) (transfer full): the link's id, which the caller must
 *   check has not been used yet
 *
 * Verifies @token as prd_auth_verify_at() does, but only a sign-in link's
 * token passes.
 *
 * Returns: (transfer full): the identity the link signs in as, or %NULL
 *   with @error set
 */
PrdIdentity *
prd_auth_verify_link_at (
    PrdAuth *self, const char *token, gint64 now, char **link_id, GError **error)
{
  g_return_val_if_fail (PRD_IS_AUTH (self), NULL);
  g_return_val_if_fail (link_id != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  *link_id = NULL;
  return verify (self, token, now, link_id, error);
}

static char *
revocation_key (const char *org, const char *user_id)
{
  return g_strconcat (org, "\n", user_id, NULL);
}

/**
 * prd_auth_revoke:
 * @org: the user's organization
 * @user_id: the user
 * @revoked_at: seconds since the Unix epoch
 *
 * From now on, tokens of the user issued at or before @revoked_at (or
 * without `iat`) are refused with %PRD_ERROR_TOKEN_REVOKED. Revocations only
 * grow: an earlier @revoked_at than the one known changes nothing.
 */
void
prd_auth_revoke (PrdAuth *self, const char *org, const char *user_id, gint64 revoked_at)
{
  g_autofree char *key = NULL;
  gint64 *known;

  g_return_if_fail (PRD_IS_AUTH (self));
  g_return_if_fail (org != NULL && user_id != NULL);

  key = revocation_key (org, user_id);
  known = g_hash_table_lookup (self->revocations, key);
  if (known == NULL)
    g_hash_table_insert (self->revocations, g_steal_pointer (&key),
                         g_memdup2 (&revoked_at, sizeof revoked_at));
  else if (*known < revoked_at)
    *known = revoked_at;
}

/**
 * prd_auth_is_revoked:
 * @identity: a verified identity
 *
 * Returns: whether the token @identity came from is revoked
 */
gboolean
prd_auth_is_revoked (PrdAuth *self, const PrdIdentity *identity)
{
  g_autofree char *key = NULL;
  const gint64 *revoked_at;

  g_return_val_if_fail (PRD_IS_AUTH (self), FALSE);
  g_return_val_if_fail (identity != NULL, FALSE);

  if (g_hash_table_size (self->revocations) == 0)
    return FALSE;
  key = revocation_key (identity->org, identity->user_id);
  revoked_at = g_hash_table_lookup (self->revocations, key);
  return revoked_at != NULL && identity->iat <= *revoked_at;
}

/**
 * prd_auth_verify:
 * @token: (nullable): the compact JWS from the client
 *
 * prd_auth_verify_at() with the current time.
 *
 * Returns: (transfer full): the identity, or %NULL with @error set
 */
PrdIdentity *
prd_auth_verify (PrdAuth *self, const char *token, GError **error)
{
  return prd_auth_verify_at (self, token, g_get_real_time () / G_USEC_PER_SEC, error);
}

/**
 * prd_auth_prove:
 * @challenge: what the asker chose (hex digits)
 *
 * Proves that this side holds the HMAC secret without showing it, so that
 * the command line checks it talks to its own hub before it sends a token
 * there: HMAC-SHA256 of `prdhub hub proof:` and @challenge, under a key
 * derived from the secret (never the JWT signing itself).
 *
 * Returns: (transfer full) (nullable): the proof in hex, or %NULL when the
 *   verifier holds no secret (public keys)
 */
char *
prd_auth_prove (PrdAuth *self, const char *challenge)
{
  g_autofree char *key = NULL;
  g_autofree char *message = NULL;

  g_return_val_if_fail (PRD_IS_AUTH (self), NULL);
  g_return_val_if_fail (challenge != NULL, NULL);

  if (self->family != FAMILY_HMAC)
    return NULL;
  key = g_compute_hmac_for_data (G_CHECKSUM_SHA256, g_bytes_get_data (self->key, NULL),
                                 g_bytes_get_size (self->key), (const guchar *) "prdhub hub proof",
                                 strlen ("prdhub hub proof"));
  message = g_strconcat ("prdhub hub proof:", challenge, NULL);
  return g_compute_hmac_for_string (G_CHECKSUM_SHA256, (const guchar *) key, strlen (key), message,
                                    -1);
}

/* Signs @identity's token; a sign-in link's when @link_id is given. */
static char *
mint (PrdAuth *self, const PrdIdentity *identity, const char *link_id, GError **error)
{
  g_autoptr (jwt_t) jwt = NULL;
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  char *raw;
  char *token;

  if (self->family != FAMILY_HMAC)
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_CONFIG,
                           "Tokens can only be minted with the hub's own secret");
      return NULL;
    }
  if (identity->user_id == NULL || identity->name == NULL || identity->org == NULL ||
      !prd_role_from_string (prd_role_to_string (identity->role), NULL))
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
                           "A token needs a user id, a name, an organization and a role");
      return NULL;
    }
  if (!prd_identity_check_claims (identity->user_id, identity->name, identity->org,
                                  identity->avatar, error))
    return NULL;
  if (identity->exp <= now)
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
                           "A token's expiry must be in the future");
      return NULL;
    }

  if (jwt_new (&jwt) != 0 || jwt_add_grant (jwt, "sub", identity->user_id) != 0 ||
      jwt_add_grant (jwt, "name", identity->name) != 0 ||
      jwt_add_grant (jwt, "org", identity->org) != 0 ||
      jwt_add_grant (jwt, "role", prd_role_to_string (identity->role)) != 0 ||
      (identity->avatar != NULL && jwt_add_grant (jwt, "avatar", identity->avatar) != 0) ||
      jwt_add_grant_int (jwt, "iat", (long) now) != 0 ||
      jwt_add_grant_int (jwt, "exp", (long) identity->exp) != 0 ||
      (link_id != NULL && jwt_add_grant (jwt, PRD_AUTH_LINK_CLAIM, link_id) != 0) ||
      jwt_set_alg (jwt, JWT_ALG_HS256, g_bytes_get_data (self->key, NULL),
                   (int) g_bytes_get_size (self->key)) != 0)
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INTERNAL, "Cannot build the token");
      return NULL;
    }
  raw = jwt_encode_str (jwt);
  if (raw == NULL)
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INTERNAL, "Cannot sign the token");
      return NULL;
    }
  token = g_strdup (raw);
  free (raw);
  return token;
}

/**
 * prd_auth_mint:
 * @identity: who the token is for; @identity->exp is its expiry
 *
 * Signs an HS256 token for @identity with the verifier's secret, for
 * operators handing out tokens (`prdhub token`) and for the sign-in links
 * the hub redeems.
 *
 * Returns: (transfer full): the compact token, or %NULL with @error set
 */
char *
prd_auth_mint (PrdAuth *self, const PrdIdentity *identity, GError **error)
{
  g_return_val_if_fail (PRD_IS_AUTH (self), NULL);
  g_return_val_if_fail (identity != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return mint (self, identity, NULL, error);
}

/**
 * prd_auth_mint_link:
 * @identity: who the link signs in as; @identity->exp is when the link and
 *   the session it opens expire
 *
 * Signs the token of a sign-in link (`prdhub token --link`): the web editor
 * trades it once for a session's token (`POST /api/sign-in`), and it is
 * refused everywhere else, so that the copy a browser keeps in its history
 * opens nothing.
 *
 * Returns: (transfer full): the compact token, or %NULL with @error set
 */
char *
prd_auth_mint_link (PrdAuth *self, const PrdIdentity *identity, GError **error)
{
  g_autofree char *link_id = g_uuid_string_random ();

  g_return_val_if_fail (PRD_IS_AUTH (self), NULL);
  g_return_val_if_fail (identity != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return mint (self, identity, link_id, error);
}
