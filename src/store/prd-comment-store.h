/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "prd-notification-store.h"

G_BEGIN_DECLS

/*
 * PrdCommentStore: comments on PRDs, their replies and their resolution.
 *
 * The hub holds every comment in memory and reads them all once, when it
 * starts (prd_comment_store_load_async()). Each change is one operation
 * that also writes the notifications and activities announcing it, in the
 * same transaction: a comment is never stored without its announcements,
 * nor announced without being stored. A comment's anchor (where it points
 * in the text) is encoded by the hub and kept as it is.
 *
 * Every method is asynchronous and completes on the main context it was
 * called from; a write that fails changes nothing.
 */

/**
 * PrdReplyRecord:
 * @id: `reply_…`
 * @comment_id: the comment replied to
 * @author_id: the author's user id
 * @author_name: the author's display name
 * @content: the text
 * @created_at: microseconds since the Unix epoch
 */
typedef struct
{
  char *id;
  char *comment_id;
  char *author_id;
  char *author_name;
  char *content;
  gint64 created_at;
} PrdReplyRecord;

/**
 * PrdCommentRecord:
 * @id: `comment_…`
 * @prd_id: the PRD commented on
 * @org: the PRD's organization
 * @author_id: the author's user id
 * @author_name: the author's display name
 * @author_avatar: (nullable): the author's avatar URL
 * @content: the text
 * @anchor: where the comment points, encoded by the hub (opaque here)
 * @created_at: microseconds since the Unix epoch
 * @resolved_by_id: (nullable): who resolved it; %NULL while open
 * @resolved_by_name: (nullable): their display name
 * @resolved_at: when, microseconds since the Unix epoch (0 while open)
 * @replies: (element-type PrdReplyRecord) (nullable): the replies, in the
 *   order they were added; never %NULL in what prd_comment_store_load_finish() returns
 */
typedef struct
{
  char *id;
  char *prd_id;
  char *org;
  char *author_id;
  char *author_name;
  char *author_avatar;
  char *content;
  char *anchor;
  gint64 created_at;
  char *resolved_by_id;
  char *resolved_by_name;
  gint64 resolved_at;
  GPtrArray *replies;
} PrdCommentRecord;

PrdReplyRecord *prd_reply_record_copy (const PrdReplyRecord *record);
void prd_reply_record_free (PrdReplyRecord *record);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrdReplyRecord, prd_reply_record_free)

PrdCommentRecord *prd_comment_record_copy (const PrdCommentRecord *record);
void prd_comment_record_free (PrdCommentRecord *record);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrdCommentRecord, prd_comment_record_free)

#define PRD_TYPE_COMMENT_STORE (prd_comment_store_get_type ())

G_DECLARE_INTERFACE (PrdCommentStore, prd_comment_store, PRD, COMMENT_STORE, GObject)

/**
 * PrdCommentStoreInterface:
 * @load_async: every comment with its replies
 * @add_async: a new comment, with its announcements (PRD_NOT_FOUND, nothing
 *   written, when its PRD no longer exists)
 * @add_reply_async: a new reply, with its announcements (NOT_FOUND when its
 *   comment no longer exists)
 * @resolve_async: mark an open comment resolved, with its announcements
 *   (NOT_FOUND when the comment no longer exists, INVALID_OPERATION when it
 *   is resolved already; nothing written either way)
 *
 * Arguments reach the implementation already checked; the announcement
 * arrays are its own copies (never %NULL), which it may keep a reference to.
 */
struct _PrdCommentStoreInterface
{
  GTypeInterface parent_iface;

  void (*load_async) (PrdCommentStore *self,
                      GCancellable *cancellable,
                      GAsyncReadyCallback callback,
                      gpointer user_data);
  GPtrArray *(*load_finish) (PrdCommentStore *self, GAsyncResult *result, GError **error);

  void (*add_async) (PrdCommentStore *self,
                     const PrdCommentRecord *comment,
                     GPtrArray *notifications,
                     GPtrArray *activities,
                     GCancellable *cancellable,
                     GAsyncReadyCallback callback,
                     gpointer user_data);
  gboolean (*add_finish) (PrdCommentStore *self, GAsyncResult *result, GError **error);

  void (*add_reply_async) (PrdCommentStore *self,
                           const PrdReplyRecord *reply,
                           GPtrArray *notifications,
                           GPtrArray *activities,
                           GCancellable *cancellable,
                           GAsyncReadyCallback callback,
                           gpointer user_data);
  gboolean (*add_reply_finish) (PrdCommentStore *self, GAsyncResult *result, GError **error);

  void (*resolve_async) (PrdCommentStore *self,
                         const char *comment_id,
                         const char *resolved_by_id,
                         const char *resolved_by_name,
                         gint64 resolved_at,
                         GPtrArray *notifications,
                         GPtrArray *activities,
                         GCancellable *cancellable,
                         GAsyncReadyCallback callback,
                         gpointer user_data);
  gboolean (*resolve_finish) (PrdCommentStore *self, GAsyncResult *result, GError **error);
};

void prd_comment_store_load_async (PrdCommentStore *self,
                                   GCancellable *cancellable,
                                   GAsyncReadyCallback callback,
                                   gpointer user_data);
GPtrArray *
prd_comment_store_load_finish (PrdCommentStore *self, GAsyncResult *result, GError **error);

void prd_comment_store_add_async (PrdCommentStore *self,
                                  const PrdCommentRecord *comment,
                                  GPtrArray *notifications,
                                  GPtrArray *activities,
                                  GCancellable *cancellable,
                                  GAsyncReadyCallback callback,
                                  gpointer user_data);
gboolean prd_comment_store_add_finish (PrdCommentStore *self, GAsyncResult *result, GError **error);

void prd_comment_store_add_reply_async (PrdCommentStore *self,
                                        const PrdReplyRecord *reply,
                                        GPtrArray *notifications,
                                        GPtrArray *activities,
                                        GCancellable *cancellable,
                                        GAsyncReadyCallback callback,
                                        gpointer user_data);
gboolean
prd_comment_store_add_reply_finish (PrdCommentStore *self, GAsyncResult *result, GError **error);

void prd_comment_store_resolve_async (PrdCommentStore *self,
                                      const char *comment_id,
                                      const char *resolved_by_id,
                                      const char *resolved_by_name,
                                      gint64 resolved_at,
                                      GPtrArray *notifications,
                                      GPtrArray *activities,
                                      GCancellable *cancellable,
                                      GAsyncReadyCallback callback,
                                      gpointer user_data);
gboolean
prd_comment_store_resolve_finish (PrdCommentStore *self, GAsyncResult *result, GError **error);

G_END_DECLS
