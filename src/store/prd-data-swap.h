/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

#include "prd-data-lock.h"

G_BEGIN_DECLS

/* How the folder of a swap in a data folder begins: `.restore-XXXXXX`. */
#define PRD_DATA_SWAP_PREFIX ".restore-"
/* In a swap's folder: the files to put in place, ... */
#define PRD_DATA_SWAP_NEW "new"
/* ... the data folder's files they replace, once moved aside, ... */
#define PRD_DATA_SWAP_OLD "old"
/* ... and the mark, written last, that the new files are complete. */
#define PRD_DATA_SWAP_COMPLETE "complete"

char *prd_data_swap_begin (const char *data_dir, GError **error);
gboolean prd_data_swap_commit (const char *swap_dir,
                               const char *data_dir,
                               const char *const *files,
                               const char *const *replaced,
                               GError **error);
gboolean prd_data_swap_abandon (const char *swap_dir, GError **error);
gboolean prd_data_swap_recover (const char *data_dir, PrdDataLock *lock, GError **error);

G_END_DECLS
