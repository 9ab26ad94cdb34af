/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The file in a data folder that the hub serving it holds locked. */
#define PRD_DATA_LOCK_FILE "prdhub.lock"

typedef struct _PrdDataLock PrdDataLock;

PrdDataLock *prd_data_lock_acquire (const char *data_dir, GError **error);
const char *prd_data_lock_get_left_by (PrdDataLock *lock);
void prd_data_lock_forget_left_by (PrdDataLock *lock);
void prd_data_lock_leave_unclean (PrdDataLock *lock);
void prd_data_lock_release (PrdDataLock *lock);
void prd_data_lock_release_restored (PrdDataLock *lock);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrdDataLock, prd_data_lock_release)

G_END_DECLS
