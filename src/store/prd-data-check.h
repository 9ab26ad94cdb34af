/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

gboolean prd_data_check_files (const char *data_dir,
                               const char *db_name,
                               const char *repo_name,
                               GError **error);

G_END_DECLS
