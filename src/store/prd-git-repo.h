/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* The branch every version commit goes to: one linear history for all PRDs. */
#define PRD_GIT_BRANCH "refs/heads/main"

#define PRD_TYPE_GIT_REPO (prd_git_repo_get_type ())
G_DECLARE_FINAL_TYPE (PrdGitRepo, prd_git_repo, PRD, GIT_REPO, GObject)

gboolean prd_git_validate_version (const char *version, GError **error);
char *prd_git_tag_name (const char *prd_id, const char *version);

PrdGitRepo *prd_git_repo_new (const char *path);
gboolean prd_git_repo_copy (const char *source, const char *dest, GError **error);
gboolean prd_git_repo_has_refs (const char *path, gboolean *has_refs, GError **error);
const char *prd_git_repo_get_path (PrdGitRepo *self);
void prd_git_repo_init_async (PrdGitRepo *self,
                              GCancellable *cancellable,
                              GAsyncReadyCallback callback,
                              gpointer user_data);
gboolean prd_git_repo_init_finish (PrdGitRepo *self, GAsyncResult *result, GError **error);

void prd_git_repo_commit_async (PrdGitRepo *self,
                                const char *prd_id,
                                const char *version,
                                const char *content,
                                const char *message,
                                const char *author_name,
                                const char *author_email,
                                gint64 time_usec,
                                GCancellable *cancellable,
                                GAsyncReadyCallback callback,
                                gpointer user_data);
char *prd_git_repo_commit_finish (PrdGitRepo *self, GAsyncResult *result, GError **error);

void prd_git_repo_read_async (PrdGitRepo *self,
                              const char *prd_id,
                              const char *version,
                              GCancellable *cancellable,
                              GAsyncReadyCallback callback,
                              gpointer user_data);
char *prd_git_repo_read_finish (PrdGitRepo *self, GAsyncResult *result, GError **error);

/* The largest versions prd_git_repo_diff_async() compares: the cost of a
 * diff grows with the lines times the edits between them. */
#define PRD_GIT_REPO_DIFF_MAX_LINES 10000
#define PRD_GIT_REPO_DIFF_MAX_BYTES (1024 * 1024)

/* Compaction (see prd-git-repo.c): once this many objects have been
 * written loose (one file each) since they were last packed, they are
 * packed into one pack file, and the branch's and the tags' loose refs
 * into packed-refs. */
#define PRD_GIT_REPO_PACK_LOOSE_OBJECTS 512
/* The most pack files compaction leaves: one more would be written, so it
 * writes one pack of every object instead and removes the others. */
#define PRD_GIT_REPO_PACK_MAX_PACKS 16

void prd_git_repo_diff_async (PrdGitRepo *self,
                              const char *prd_id,
                              const char *from_version,
                              const char *to_version,
                              GCancellable *cancellable,
                              GAsyncReadyCallback callback,
                              gpointer user_data);
char *prd_git_repo_diff_finish (PrdGitRepo *self, GAsyncResult *result, GError **error);

void prd_git_repo_purge_async (PrdGitRepo *self,
                               const char *prd_id,
                               const char *message,
                               const char *author_name,
                               const char *author_email,
                               gint64 time_usec,
                               GCancellable *cancellable,
                               GAsyncReadyCallback callback,
                               gpointer user_data);
gboolean
prd_git_repo_purge_finish (PrdGitRepo *self, GAsyncResult *result, guint *out_tags, GError **error);

void prd_git_repo_drop_tag_async (PrdGitRepo *self,
                                  const char *prd_id,
                                  const char *version,
                                  GCancellable *cancellable,
                                  GAsyncReadyCallback callback,
                                  gpointer user_data);
gboolean prd_git_repo_drop_tag_finish (PrdGitRepo *self, GAsyncResult *result, GError **error);

G_END_DECLS
