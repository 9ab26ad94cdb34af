/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

gboolean prd_private_file_create (const char *path, GError **error);
gboolean prd_private_file_restrict (const char *path, GError **error);
gboolean prd_private_file_restrict_tree (const char *path, GError **error);
gboolean prd_private_file_remove_tree (const char *path, GError **error);

G_END_DECLS
