/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

gboolean prd_private_file_refuse_link (const char *path, GError **error);
gboolean prd_private_file_create (const char *path, GError **error);
gboolean prd_private_file_restrict (const char *path, GError **error);
gboolean prd_private_file_restrict_tree (const char *path, GError **error);
gboolean prd_private_file_remove_tree (const char *path, GError **error);
gboolean prd_private_file_lexists (const char *path);
GPtrArray *prd_private_file_list_dirs (const char *parent,
                                       const char *prefix,
                                       gsize suffix_len,
                                       GError **error);
char *prd_private_file_make_held_dir (const char *template, int *fd, GError **error);
gboolean prd_private_file_remove_stale_dirs (
    const char *parent, const char *prefix, gsize suffix_len, GPtrArray *removed, GError **error);
gboolean prd_private_file_sync_dir (const char *path, gboolean whole_filesystem, GError **error);
gboolean prd_private_file_set_errno_error (GError **error,
                                           int saved_errno,
                                           const char *what,
                                           const char *path);

G_END_DECLS
