/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

char *prd_time_format (gint64 real_time_us);
char *prd_time_format_now (void);

G_END_DECLS
