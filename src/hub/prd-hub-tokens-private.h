/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * For the tests only: the wall clock PrdHubTokens reads, so that a test can
 * step it back or forward as NTP or `date` would, without moving the
 * monotonic clock the main loop's timers run on.
 */
#pragma once

#include "prd-hub-tokens.h"

G_BEGIN_DECLS

/* Microseconds since the epoch, as g_get_real_time(). */
typedef gint64 (*PrdHubTokensWallClock) (gpointer user_data);

void prd_hub_tokens_set_wall_clock (PrdHubTokens *self,
                                    PrdHubTokensWallClock wall_clock,
                                    gpointer user_data);

G_END_DECLS
