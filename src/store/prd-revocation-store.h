/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/*
 * PrdRevocationStore: revoked tokens, by user.
 *
 * A revocation of the user (@org, @user_id) at @revoked_at (seconds since the
 * Unix epoch) revokes every token of that user issued at or before that
 * second (its `iat`; a token without `iat` counts as issued before any
 * revocation). A later revocation of the same user replaces the earlier.
 *
 * It also remembers the sign-in links already used (`prdhub token --link`):
 * each opens one session, and is forgotten once it has expired.
 *
 * Every method is asynchronous and completes on the main context it was
 * called from; a write that fails changes nothing.
 */

/**
 * PrdRevocationRecord:
 * @org: the user's organization
 * @user_id: the user (the tokens' `sub`)
 * @revoked_at: seconds since the Unix epoch
 */
typedef struct
{
  char *org;
  char *user_id;
  gint64 revoked_at;
} PrdRevocationRecord;

void prd_revocation_record_free (PrdRevocationRecord *record);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrdRevocationRecord, prd_revocation_record_free)

#define PRD_TYPE_REVOCATION_STORE (prd_revocation_store_get_type ())

G_DECLARE_INTERFACE (PrdRevocationStore, prd_revocation_store, PRD, REVOCATION_STORE, GObject)

/**
 * PrdRevocationStoreInterface:
 * @revoke_async: records a revocation (arguments already checked)
 * @list_async: every revocation, as a #GPtrArray of #PrdRevocationRecord
 * @use_link_async: records a sign-in link as used, failing if it was
 *   already (arguments already checked)
 */
struct _PrdRevocationStoreInterface
{
  GTypeInterface parent_iface;

  void (*revoke_async) (PrdRevocationStore *self,
                        const char *org,
                        const char *user_id,
                        gint64 revoked_at,
                        GCancellable *cancellable,
                        GAsyncReadyCallback callback,
                        gpointer user_data);
  gboolean (*revoke_finish) (PrdRevocationStore *self, GAsyncResult *result, GError **error);
  void (*list_async) (PrdRevocationStore *self,
                      GCancellable *cancellable,
                      GAsyncReadyCallback callback,
                      gpointer user_data);
  GPtrArray *(*list_finish) (PrdRevocationStore *self, GAsyncResult *result, GError **error);
  void (*use_link_async) (PrdRevocationStore *self,
                          const char *link_id,
                          gint64 expires_at,
                          GCancellable *cancellable,
                          GAsyncReadyCallback callback,
                          gpointer user_data);
  gboolean (*use_link_finish) (PrdRevocationStore *self, GAsyncResult *result, GError **error);
};

void prd_revocation_store_revoke_async (PrdRevocationStore *self,
                                        const char *org,
                                        const char *user_id,
                                        gint64 revoked_at,
                                        GCancellable *cancellable,
                                        GAsyncReadyCallback callback,
                                        gpointer user_data);
gboolean
prd_revocation_store_revoke_finish (PrdRevocationStore *self, GAsyncResult *result, GError **error);
void prd_revocation_store_list_async (PrdRevocationStore *self,
                                      GCancellable *cancellable,
                                      GAsyncReadyCallback callback,
                                      gpointer user_data);
GPtrArray *
prd_revocation_store_list_finish (PrdRevocationStore *self, GAsyncResult *result, GError **error);
void prd_revocation_store_use_link_async (PrdRevocationStore *self,
                                          const char *link_id,
                                          gint64 expires_at,
                                          GCancellable *cancellable,
                                          GAsyncReadyCallback callback,
                                          gpointer user_data);
gboolean prd_revocation_store_use_link_finish (PrdRevocationStore *self,
                                               GAsyncResult *result,
                                               GError **error);

G_END_DECLS
