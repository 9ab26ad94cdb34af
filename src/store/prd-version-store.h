/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/*
 * PrdVersionStore: the record of a PRD's versions.
 *
 * A version's text is a commit in the versions repository (PrdGitRepo);
 * this store keeps the list of versions with who made them and why, in the
 * order they were made, and the PRD's current version number: recording a
 * version sets the PRD's version in the same transaction, so the two never
 * disagree.
 *
 * Every method is asynchronous and completes on the main context it was
 * called from; a write that fails changes nothing.
 */

#define PRD_VERSION_CHANGELOG_MAX_CHARS 2000

/**
 * PrdVersionRecord:
 * @id: `ver_…`
 * @prd_id: the PRD
 * @version: MAJOR.MINOR.PATCH
 * @commit_hash: the git commit (40 hex digits)
 * @changelog: the commit message
 * @created_by_id: the author's user id
 * @created_by_name: the author's display name
 * @created_at: microseconds since the Unix epoch
 * @seq: its place in the order versions were recorded (increasing, never
 *   reused while the PRD exists; the cursor of a page,
 *   prd_version_store_list_page_async()); 0 for one not read from the store
 */
typedef struct
{
  char *id;
  char *prd_id;
  char *version;
  char *commit_hash;
  char *changelog;
  char *created_by_id;
  char *created_by_name;
  gint64 created_at;
  gint64 seq;
} PrdVersionRecord;

PrdVersionRecord *prd_version_record_copy (const PrdVersionRecord *record);
void prd_version_record_free (PrdVersionRecord *record);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrdVersionRecord, prd_version_record_free)

char *prd_version_generate_id (void);
char *prd_version_bump (const char *version, const char *type, GError **error);

#define PRD_TYPE_VERSION_STORE (prd_version_store_get_type ())

G_DECLARE_INTERFACE (PrdVersionStore, prd_version_store, PRD, VERSION_STORE, GObject)

/**
 * PrdVersionStoreInterface:
 * @add_async: record a version and make it the PRD's current one
 * @list_async: a PRD's versions, oldest first
 * @list_page_async: at most `limit` of a PRD's versions, oldest first,
 *   after its first `skip` ones
 *
 * Arguments reach the implementation already checked.
 */
struct _PrdVersionStoreInterface
{
  GTypeInterface parent_iface;

  void (*add_async) (PrdVersionStore *self,
                     const PrdVersionRecord *record,
                     GCancellable *cancellable,
                     GAsyncReadyCallback callback,
                     gpointer user_data);
  gboolean (*add_finish) (PrdVersionStore *self, GAsyncResult *result, GError **error);

  void (*list_async) (PrdVersionStore *self,
                      const char *prd_id,
                      GCancellable *cancellable,
                      GAsyncReadyCallback callback,
                      gpointer user_data);
  GPtrArray *(*list_finish) (PrdVersionStore *self, GAsyncResult *result, GError **error);

  void (*list_page_async) (PrdVersionStore *self,
                           const char *prd_id,
                           gint64 skip,
                           guint limit,
                           GCancellable *cancellable,
                           GAsyncReadyCallback callback,
                           gpointer user_data);
  GPtrArray *(*list_page_finish) (PrdVersionStore *self, GAsyncResult *result, GError **error);
};

void prd_version_store_add_async (PrdVersionStore *self,
                                  const PrdVersionRecord *record,
                                  GCancellable *cancellable,
                                  GAsyncReadyCallback callback,
                                  gpointer user_data);
gboolean prd_version_store_add_finish (PrdVersionStore *self, GAsyncResult *result, GError **error);

void prd_version_store_list_async (PrdVersionStore *self,
                                   const char *prd_id,
                                   GCancellable *cancellable,
                                   GAsyncReadyCallback callback,
                                   gpointer user_data);
GPtrArray *
prd_version_store_list_finish (PrdVersionStore *self, GAsyncResult *result, GError **error);

void prd_version_store_list_page_async (PrdVersionStore *self,
                                        const char *prd_id,
                                        gint64 skip,
                                        guint limit,
                                        GCancellable *cancellable,
                                        GAsyncReadyCallback callback,
                                        gpointer user_data);
GPtrArray *
prd_version_store_list_page_finish (PrdVersionStore *self, GAsyncResult *result, GError **error);

G_END_DECLS
