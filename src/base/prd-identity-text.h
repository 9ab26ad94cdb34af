/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

const char *prd_identity_text_check (const char *text,
                                     gsize max_bytes,
                                     gboolean required,
                                     gboolean forbid_brackets);

G_END_DECLS
