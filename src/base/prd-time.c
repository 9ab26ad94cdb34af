/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The one way the tree writes a point in time: ISO 8601 UTC with
 * milliseconds, as JavaScript's Date.prototype.toISOString() prints it, so
 * that clients parse it and compare it with their own timestamps. The
 * Socket.IO layer, the hub's events and its REST answers all use it.
 */
#define G_LOG_DOMAIN "prd-base"

#include "config.h"

#include "prd-time.h"

/**
 * prd_time_format:
 * @real_time_us: microseconds since the epoch, as g_get_real_time()
 *
 * Returns: (transfer full): e.g. `2024-01-26T10:30:00.000Z`; the epoch for
 *   a time #GDateTime cannot hold
 */
char *
prd_time_format (gint64 real_time_us)
{
  g_autoptr (GDateTime) dt = g_date_time_new_from_unix_utc (real_time_us / G_USEC_PER_SEC);

  if (dt == NULL)
    return g_strdup ("1970-01-01T00:00:00.000Z");
  return g_strdup_printf (
      "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", g_date_time_get_year (dt), g_date_time_get_month (dt),
      g_date_time_get_day_of_month (dt), g_date_time_get_hour (dt), g_date_time_get_minute (dt),
      g_date_time_get_second (dt), (int) ((real_time_us % G_USEC_PER_SEC) / 1000));
}

/**
 * prd_time_format_now:
 *
 * Returns: (transfer full): prd_time_format() of the current time
 */
char *
prd_time_format_now (void)
{
  return prd_time_format (g_get_real_time ());
}
