/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

/**
 * PrdRole:
 *
 * What a user may do, from the token's `role` claim.
 */
typedef enum
{
  PRD_ROLE_VIEWER,
  PRD_ROLE_EDITOR,
  PRD_ROLE_ADMIN,
} PrdRole;

const char *prd_role_to_string (PrdRole role);
gboolean prd_role_from_string (const char *str, PrdRole *role);

#define PRD_TYPE_IDENTITY (prd_identity_get_type ())

/**
 * PrdIdentity:
 * @user_id: the `sub` claim
 * @name: display name
 * @avatar: (nullable): avatar URL
 * @org: organization id
 * @role: the user's role
 * @exp: expiry, seconds since the Unix epoch
 * @iat: when the token was issued (its `iat`), seconds since the Unix epoch;
 *   0 when the token does not say
 *
 * Who a verified token says its bearer is.
 */
typedef struct
{
  char *user_id; /* (owned) */
  char *name;    /* (owned) */
  char *avatar;  /* (owned) (nullable) */
  char *org;     /* (owned) */
  PrdRole role;
  gint64 exp;
  gint64 iat;
} PrdIdentity;

GType prd_identity_get_type (void) G_GNUC_CONST;
PrdIdentity *prd_identity_new (const char *user_id,
                               const char *name,
                               const char *avatar,
                               const char *org,
                               PrdRole role,
                               gint64 exp);
PrdIdentity *prd_identity_copy (const PrdIdentity *identity);
gboolean prd_identity_check_claims (
    const char *user_id, const char *name, const char *org, const char *avatar, GError **error);
void prd_identity_free (PrdIdentity *identity);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrdIdentity, prd_identity_free)

/* Longest `sub` and `org` claims, `name` and `avatar`, in bytes. */
#define PRD_AUTH_MAX_ID_BYTES     256
#define PRD_AUTH_MAX_NAME_BYTES   256
#define PRD_AUTH_MAX_AVATAR_BYTES 2048
/* Tokens longer than this are refused before any parsing. */
#define PRD_AUTH_MAX_TOKEN_LENGTH 8192
/* Clock skew tolerated for `nbf` and `iat`, in seconds. */
#define PRD_AUTH_LEEWAY_SECONDS 60

/* User ids the hub writes under itself (a created PRD's initial content, the
 * AI's text); no token may claim them, or its bearer could write as the hub. */
#define PRD_AUTH_HUB_USER_ID "hub"
#define PRD_AUTH_AI_USER_ID  "ai"
/* The claim that makes a token a sign-in link's (prd_auth_mint_link()): the
 * link's id, a random UUID in its 36-character form. */
#define PRD_AUTH_LINK_CLAIM "sign_in_link"
/* Shortest HMAC secret accepted, in bytes (RFC 7518 §3.2: at least the hash size). */
#define PRD_AUTH_MIN_SECRET_LENGTH 32

#define PRD_TYPE_AUTH (prd_auth_get_type ())
G_DECLARE_FINAL_TYPE (PrdAuth, prd_auth, PRD, AUTH, GObject)

PrdAuth *prd_auth_new_hmac (GBytes *secret, GError **error);
PrdAuth *prd_auth_new_public_key (const char *pem, gsize len, GError **error);
PrdAuth *prd_auth_new_public_key_file (const char *path, GError **error);
const char *prd_auth_get_algorithm_family (PrdAuth *self);
PrdIdentity *prd_auth_verify (PrdAuth *self, const char *token, GError **error);
PrdIdentity *prd_auth_verify_at (PrdAuth *self, const char *token, gint64 now, GError **error);
PrdIdentity *prd_auth_verify_link_at (
    PrdAuth *self, const char *token, gint64 now, char **link_id, GError **error);
char *prd_auth_mint (PrdAuth *self, const PrdIdentity *identity, GError **error);
char *prd_auth_mint_link (PrdAuth *self, const PrdIdentity *identity, GError **error);
char *prd_auth_prove (PrdAuth *self, const char *challenge);
void prd_auth_revoke (PrdAuth *self, const char *org, const char *user_id, gint64 revoked_at);
gboolean prd_auth_is_revoked (PrdAuth *self, const PrdIdentity *identity);

G_END_DECLS
