/* SPDX-License-Identifier: GPL-3.0-or-later */
/* What tests of the versions repository reach beyond its API. */
#pragma once

#include "prd-git-repo.h"

G_BEGIN_DECLS

typedef void (*PrdGitRepoCompactHook) (PrdGitRepo *self, gpointer user_data);

void
prd_git_repo_set_compact_hook (PrdGitRepo *self, PrdGitRepoCompactHook hook, gpointer user_data);
void prd_git_repo_wait_compaction (PrdGitRepo *self);

G_END_DECLS
