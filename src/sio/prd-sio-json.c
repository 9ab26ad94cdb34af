/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Timestamps as the Socket.IO layer writes them. JSON is read with the one
 * strict reader of the base layer (prd-json.h).
 */
#define G_LOG_DOMAIN "prd-sio"

#include "config.h"

#include "prd-sio-json-private.h"

/* ISO-8601 UTC with milliseconds, as JavaScript's Date.prototype.toISOString()
 * prints it, so clients can compare with their own timestamps. */
char *
prd_sio_json_timestamp (gint64 real_time_us)
{
  g_autoptr (GDateTime) dt = g_date_time_new_from_unix_utc (real_time_us / G_USEC_PER_SEC);

  if (dt == NULL)
    return g_strdup ("1970-01-01T00:00:00.000Z");
  return g_strdup_printf (
      "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", g_date_time_get_year (dt), g_date_time_get_month (dt),
      g_date_time_get_day_of_month (dt), g_date_time_get_hour (dt), g_date_time_get_minute (dt),
      g_date_time_get_second (dt), (int) ((real_time_us % G_USEC_PER_SEC) / 1000));
}

char *
prd_sio_json_timestamp_now (void)
{
  return prd_sio_json_timestamp (g_get_real_time ());
}
