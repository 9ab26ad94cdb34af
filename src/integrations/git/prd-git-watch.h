/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * PrdGitWatch: what lets a watchdog end one libgit2 network operation
 * running on a worker thread (libgit2 1.5 has no network timeout).
 */
typedef struct _PrdGitWatch PrdGitWatch;

/* What the sockets of one watch may read in all (see prd-git-watch.c). */
#define PRD_GIT_WATCH_MAX_READ_MIB 16
#define PRD_GIT_WATCH_MAX_READ     ((guint64) PRD_GIT_WATCH_MAX_READ_MIB * 1024 * 1024)

PrdGitWatch *prd_git_watch_new (void);
PrdGitWatch *prd_git_watch_ref (PrdGitWatch *watch);
void prd_git_watch_unref (PrdGitWatch *watch);
void prd_git_watch_begin (PrdGitWatch *watch);
void prd_git_watch_end (PrdGitWatch *watch);
void prd_git_watch_abort (PrdGitWatch *watch);
gboolean prd_git_watch_is_aborted (PrdGitWatch *watch);
char *prd_git_watch_dup_reason (PrdGitWatch *watch);
void prd_git_watch_setup (void);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrdGitWatch, prd_git_watch_unref)

G_END_DECLS
