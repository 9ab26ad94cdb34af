/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

char *prd_sio_json_timestamp_now (void);
char *prd_sio_json_timestamp (gint64 real_time_us);

G_END_DECLS
