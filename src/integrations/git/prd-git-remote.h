/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "prd-integration.h"

G_BEGIN_DECLS

#define PRD_GIT_REMOTE_SERVICE "git"

/* Where a push keeps the organization's own history in the versions
 * repository: `refs/prdhub/export/<16 hex digits of the organization's
 * SHA-256>/{main,source,tags/<prdId>/v<version>}`. */
#define PRD_GIT_REMOTE_EXPORT_PREFIX "refs/prdhub/export/"

/**
 * PrdGitPushResult:
 * @commit: (nullable): the commit the remote branch now points at (40 hex
 *   digits); %NULL when the organization has no version yet
 * @branch: the remote branch (`refs/heads/<branch>`)
 * @n_tags: how many version tags the push sent
 * @n_updated: how many refs the remote changed (0 when it was up to date)
 */
typedef struct
{
  char *commit;
  char *branch;
  guint n_tags;
  guint n_updated;
} PrdGitPushResult;

void prd_git_push_result_free (PrdGitPushResult *result);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrdGitPushResult, prd_git_push_result_free)

#define PRD_TYPE_GIT_REMOTE (prd_git_remote_get_type ())

G_DECLARE_FINAL_TYPE (PrdGitRemote, prd_git_remote, PRD, GIT_REMOTE, GObject)

void prd_git_remote_set_file_urls_allowed (gboolean allowed);
gboolean prd_git_remote_get_push_on_version (PrdGitRemote *self);
const char *prd_git_remote_get_url (PrdGitRemote *self);

void prd_git_remote_push_async (PrdGitRemote *self,
                                const char *repo_path,
                                const char *const *prd_ids,
                                GCancellable *cancellable,
                                GAsyncReadyCallback callback,
                                gpointer user_data);
PrdGitPushResult *
prd_git_remote_push_finish (PrdGitRemote *self, GAsyncResult *result, GError **error);

G_END_DECLS
