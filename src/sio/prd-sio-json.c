/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Strict JSON front-end for the packet decoder.
 *
 * json-glib 1.6 is lenient in ways that matter on a network boundary: it
 * accepts comments, single-quoted strings, hex and leading-zero numbers and
 * trailing garbage after the first value, silently wraps integers that do not
 * fit in 64 bits, turns 1e400 into infinity (which it then prints as invalid
 * JSON) and recurses without a depth limit. Every payload is therefore first
 * checked against the RFC 8259 grammar here, then handed to json-glib.
 */
#define G_LOG_DOMAIN "prd-sio"

#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "prd-error.h"
#include "prd-sio-json-private.h"

typedef struct
{
  const char *p;
  const char *end;
  const char *start;
  GError **error;
} Scanner;

static gboolean
fail (Scanner *s, const char *what)
{
  g_set_error (s->error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD, "Invalid JSON at offset %ld: %s",
               (long) (s->p - s->start), what);
  return FALSE;
}

static void
skip_ws (Scanner *s)
{
  while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
    s->p++;
}

static gboolean
scan_literal (Scanner *s, const char *lit)
{
  gsize n = strlen (lit);

  if ((gsize) (s->end - s->p) < n || memcmp (s->p, lit, n) != 0)
    return fail (s, "unexpected token");
  s->p += n;
  return TRUE;
}

static gboolean
scan_string (Scanner *s)
{
  s->p++; /* opening quote */
  while (s->p < s->end)
    {
      unsigned char c = (unsigned char) *s->p;

      if (c == '"')
        {
          s->p++;
          return TRUE;
        }
      if (c < 0x20)
        return fail (s, "control character in string");
      if (c == '\\')
        {
          s->p++;
          if (s->p >= s->end)
            break;
          switch (*s->p)
            {
              case '"':
              case '\\':
              case '/':
              case 'b':
              case 'f':
              case 'n':
              case 'r':
              case 't':
                s->p++;
                break;
              case 'u':
                s->p++;
                for (int i = 0; i < 4; i++, s->p++)
                  if (s->p >= s->end || !g_ascii_isxdigit (*s->p))
                    return fail (s, "bad \\u escape");
                /* C strings end at NUL: json-glib would cut the string there */
                if (memcmp (s->p - 4, "0000", 4) == 0)
                  return fail (s, "\\u0000 in a string is not supported");
                break;
              default:
                return fail (s, "bad escape");
            }
          continue;
        }
      s->p++;
    }
  return fail (s, "unterminated string");
}

static gboolean
scan_number (Scanner *s)
{
  const char *begin = s->p;
  gboolean integral = TRUE;
  char buf[64];
  gsize len;

  if (*s->p == '-')
    s->p++;
  if (s->p >= s->end || !g_ascii_isdigit (*s->p))
    return fail (s, "bad number");
  if (*s->p == '0')
    {
      s->p++;
      if (s->p < s->end && g_ascii_isdigit (*s->p))
        return fail (s, "leading zero in number");
    }
  else
    while (s->p < s->end && g_ascii_isdigit (*s->p))
      s->p++;
  if (s->p < s->end && *s->p == '.')
    {
      integral = FALSE;
      s->p++;
      if (s->p >= s->end || !g_ascii_isdigit (*s->p))
        return fail (s, "bad fraction");
      while (s->p < s->end && g_ascii_isdigit (*s->p))
        s->p++;
    }
  if (s->p < s->end && (*s->p == 'e' || *s->p == 'E'))
    {
      integral = FALSE;
      s->p++;
      if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
        s->p++;
      if (s->p >= s->end || !g_ascii_isdigit (*s->p))
        return fail (s, "bad exponent");
      while (s->p < s->end && g_ascii_isdigit (*s->p))
        s->p++;
    }

  len = (gsize) (s->p - begin);
  if (len >= sizeof buf)
    return fail (s, "number too long");
  memcpy (buf, begin, len);
  buf[len] = '\0';

  /* json-glib stores integers as gint64 and doubles as double: refuse what
   * either would silently corrupt. */
  errno = 0;
  if (integral)
    {
      (void) g_ascii_strtoll (buf, NULL, 10);
      if (errno == ERANGE)
        return fail (s, "integer out of 64-bit range");
    }
  else
    {
      double d = g_ascii_strtod (buf, NULL);

      if (errno == ERANGE && isinf (d))
        return fail (s, "number out of range");
    }
  return TRUE;
}

static gboolean scan_value (Scanner *s, guint depth);

static gboolean
scan_container (Scanner *s, guint depth, gboolean object)
{
  char close = object ? '}' : ']';

  if (depth >= PRD_SIO_JSON_MAX_DEPTH)
    return fail (s, "nesting too deep");
  s->p++;
  skip_ws (s);
  if (s->p < s->end && *s->p == close)
    {
      s->p++;
      return TRUE;
    }
  for (;;)
    {
      skip_ws (s);
      if (object)
        {
          if (s->p >= s->end || *s->p != '"')
            return fail (s, "expected member name");
          if (!scan_string (s))
            return FALSE;
          skip_ws (s);
          if (s->p >= s->end || *s->p != ':')
            return fail (s, "expected ':'");
          s->p++;
        }
      if (!scan_value (s, depth + 1))
        return FALSE;
      skip_ws (s);
      if (s->p < s->end && *s->p == ',')
        {
          s->p++;
          continue;
        }
      if (s->p < s->end && *s->p == close)
        {
          s->p++;
          return TRUE;
        }
      return fail (s, object ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

static gboolean
scan_value (Scanner *s, guint depth)
{
  skip_ws (s);
  if (s->p >= s->end)
    return fail (s, "unexpected end of input");
  switch (*s->p)
    {
      case '{':
        return scan_container (s, depth, TRUE);
      case '[':
        return scan_container (s, depth, FALSE);
      case '"':
        return scan_string (s);
      case 't':
        return scan_literal (s, "true");
      case 'f':
        return scan_literal (s, "false");
      case 'n':
        return scan_literal (s, "null");
      default:
        if (*s->p == '-' || g_ascii_isdigit (*s->p))
          return scan_number (s);
        return fail (s, "unexpected character");
    }
}

/**
 * prd_sio_json_parse_strict:
 * @text: UTF-8 JSON text (need not be nul-terminated)
 * @len: its length in bytes
 *
 * Returns: (transfer full): the one JSON value in @text, or %NULL with
 *   %PRD_ERROR_INVALID_PAYLOAD
 */
JsonNode *
prd_sio_json_parse_strict (const char *text, gsize len, GError **error)
{
  Scanner s = { text, text + len, text, error };
  g_autoptr (JsonParser) parser = NULL;
  g_autoptr (GError) local_error = NULL;
  JsonNode *root;

  if (!g_utf8_validate_len (text, len, NULL))
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD, "JSON is not valid UTF-8");
      return NULL;
    }
  if (!scan_value (&s, 0))
    return NULL;
  skip_ws (&s);
  if (s.p != s.end)
    {
      fail (&s, "trailing data after JSON value");
      return NULL;
    }

  parser = json_parser_new_immutable ();
  if (!json_parser_load_from_data (parser, text, (gssize) len, &local_error))
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD, "Invalid JSON: %s",
                   local_error->message);
      return NULL;
    }
  root = json_parser_steal_root (parser);
  if (root == NULL)
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD, "Empty JSON");
      return NULL;
    }
  return root;
}

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
