/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The API key out of a provider's error text.
 *
 * A provider, or a proxy in front of it, may quote the request's
 * `Authorization` header in its error: as it is, URL-encoded, escaped for
 * JSON or HTML, as the base64 of `Basic`, and, where the hub cut the text
 * (the error body is read up to a bound; a connection may break off), only
 * in part. The text reaches users, the job records and the log, so every
 * one of those spellings is replaced by PRD_OPENAI_REDACTED.
 *
 * It runs on error text only (at most the error body's bound), so it
 * matches by hand, one position at a time, decoding escapes as it goes,
 * rather than building a table of the key's spellings.
 */
#define G_LOG_DOMAIN "prd-ai"

#include "config.h"

#include <string.h>

#include "prd-openai-provider-private.h"

/* The base64 of the key, at each of the three places it can start in a
 * group of three bytes, and in both alphabets. */
#define N_BASE64_FORMS 6

typedef struct
{
  const char *key;
  gsize key_len;
  char *base64[N_BASE64_FORMS]; /* (owned) (nullable) the characters that depend on the key only */
  gsize base64_len[N_BASE64_FORMS];
} Redactor;

/* The value of the @n hex (@base 16) or decimal digits at @p, -1 if they
 * are not all digits; with *@dangling set where the text ends among them. */
static int
digits_value (const char *p, const char *end, gsize n, int base, gboolean *dangling)
{
  int value = 0;

  for (gsize i = 0; i < n; i++)
    {
      int digit;

      if (p + i == end)
        {
          *dangling = TRUE;
          return -1;
        }
      digit = base == 16 ? g_ascii_xdigit_value (p[i]) : g_ascii_digit_value (p[i]);
      if (digit < 0)
        return -1;
      value = value * base + digit;
    }
  return value;
}

/* The character an escape at @p stands for, and its length in *@len: the
 * way URLs (`%2B`, `+` for a space), JSON (`\u002b`, `\/`) or HTML
 * (`&#43;`, `&#x2b;`, `&amp;`) write one. -1 if there is none; then
 * *@dangling says whether the text ends inside what may be one. */
static int
unescape (const char *p, const char *end, gsize *len, gboolean *dangling)
{
  static const struct
  {
    const char *entity;
    char c;
  } entities[] = {
    { "&amp;", '&' }, { "&lt;", '<' }, { "&gt;", '>' }, { "&quot;", '"' }, { "&apos;", '\'' },
  };
  gsize avail = (gsize) (end - p);
  int value;

  switch (*p)
    {
      case '+':
        *len = 1;
        return ' ';
      case '%':
        *len = 3;
        return digits_value (p + 1, end, 2, 16, dangling);
      case '\\':
        if (avail < 2)
          {
            *dangling = TRUE;
            return -1;
          }
        if (p[1] == '"' || p[1] == '\\' || p[1] == '/')
          {
            *len = 2;
            return p[1];
          }
        if (p[1] != 'u')
          return -1;
        *len = 6;
        return digits_value (p + 2, end, 4, 16, dangling);
      case '&':
        for (gsize i = 0; i < G_N_ELEMENTS (entities); i++)
          {
            gsize n = strlen (entities[i].entity);

            if (strncmp (p, entities[i].entity, MIN (avail, n)) == 0)
              {
                if (avail < n)
                  {
                    *dangling = TRUE;
                    return -1;
                  }
                *len = n;
                return entities[i].c;
              }
          }
        if (avail < 2 ||
            (p[1] == '#' && (avail < 3 || ((p[2] == 'x' || p[2] == 'X') && avail < 4))))
          {
            *dangling = avail < 2 || p[1] == '#';
            return -1;
          }
        if (p[1] != '#')
          return -1;
        {
          gboolean hex = p[2] == 'x' || p[2] == 'X';
          const char *digits = p + (hex ? 3 : 2);
          const char *q = digits;

          /* Leading zeros are allowed; more than 7 digits are no ASCII
           * character (and would not fit an int). */
          while (q < end && q - digits < 7 && (hex ? g_ascii_isxdigit (*q) : g_ascii_isdigit (*q)))
            q++;
          if (q == end)
            {
              *dangling = TRUE;
              return -1;
            }
          if (q == digits || *q != ';')
            return -1;
          value = digits_value (digits, q, (gsize) (q - digits), hex ? 16 : 10, dangling);
          *len = (gsize) (q + 1 - p);
          return value;
        }
      default:
        return -1;
    }
}

/* How many bytes from @p spell the key character @c: @c itself or an
 * escape of it (unescape()); the escape is tried first if @escapes_first
 * (a `\` of the key, say, is `\\` in JSON). 0 if neither; then *@dangling
 * says whether the text ends inside what may be an escape. */
static gsize
spelling_length (const char *p, const char *end, char c, gboolean escapes_first, gboolean *dangling)
{
  gsize len = 0;

  *dangling = FALSE;
  if (p == end)
    return 0;
  if (*p != '%' && *p != '\\' && *p != '&' && *p != '+')
    return *p == c ? 1 : 0;
  if (*p == c && !escapes_first)
    return 1;
  if (unescape (p, end, &len, dangling) == (guchar) c)
    return len;
  return *p == c ? 1 : 0;
}

/* How many bytes from @p spell @want (@want_len characters of the key),
 * each character as spelling_length() allows. With @to_end, a text that
 * ends after at least PRD_OPENAI_REDACT_MIN_PARTIAL of them (a cut) counts
 * too, and is taken to its end. 0 if neither. */
static gsize
key_match_once (const char *p,
                const char *end,
                const char *want,
                gsize want_len,
                gboolean to_end,
                gboolean escapes_first)
{
  gsize consumed = 0;
  gsize matched = 0;

  while (matched < want_len)
    {
      gboolean dangling = FALSE;
      gsize n = spelling_length (p + consumed, end, want[matched], escapes_first, &dangling);

      if (n == 0)
        {
          if (to_end && (p + consumed == end || dangling) &&
              matched >= PRD_OPENAI_REDACT_MIN_PARTIAL)
            return (gsize) (end - p);
          return 0;
        }
      consumed += n;
      matched++;
    }
  return consumed;
}

/* A text spells the key either as it is or escaped throughout; where the
 * two read a character differently (a `\\`, a `%` of the key followed by
 * hex digits), each reading is tried. */
static gsize
key_match (const char *p, const char *end, const char *want, gsize want_len, gboolean to_end)
{
  gsize n = key_match_once (p, end, want, want_len, to_end, FALSE);

  return n > 0 ? n : key_match_once (p, end, want, want_len, to_end, TRUE);
}

/* The same for a base64 form, which has no escapes. */
static gsize
plain_match (const char *p, const char *end, const char *want, gsize want_len, gboolean to_end)
{
  gsize avail = (gsize) (end - p);

  if (avail >= want_len)
    return memcmp (p, want, want_len) == 0 ? want_len : 0;
  if (to_end && avail >= PRD_OPENAI_REDACT_MIN_PARTIAL && memcmp (p, want, avail) == 0)
    return avail;
  return 0;
}

/* The characters of the base64 of @key that do not depend on the bytes
 * around it, when @key starts @offset bytes into a group of three. */
static char *
base64_core (const char *key, gsize key_len, gsize offset, gboolean url_safe)
{
  g_autofree guchar *bytes = g_malloc0 (key_len + 4);
  g_autofree char *encoded = NULL;
  gsize start = (8 * offset + 5) / 6;
  gsize stop = 8 * (offset + key_len) / 6;

  if (stop < start + PRD_OPENAI_REDACT_MIN_PARTIAL)
    return NULL;
  memcpy (bytes + offset, key, key_len);
  encoded = g_base64_encode (bytes, offset + key_len + 2);
  if (url_safe)
    {
      g_strdelimit (encoded, "+", '-');
      g_strdelimit (encoded, "/", '_');
    }
  return g_strndup (encoded + start, stop - start);
}

/* How many bytes from @p are the key in one of its spellings (or, with
 * @to_end, the start of one that the end of the text cut). */
static gsize
any_match (const Redactor *r, const char *p, const char *end, gboolean to_end)
{
  gsize n = key_match (p, end, r->key, r->key_len, to_end);

  for (guint i = 0; n == 0 && i < N_BASE64_FORMS; i++)
    if (r->base64[i] != NULL)
      n = plain_match (p, end, r->base64[i], r->base64_len[i], to_end);
  return n;
}

/* How many bytes at the start of the text are the end of a spelling of the
 * key, at least PRD_OPENAI_REDACT_MIN_PARTIAL characters of it: what is left
 * of the key where the text was cut before it. The longest wins. */
static gsize
leading_suffix (const Redactor *r, const char *text, const char *end)
{
  for (gsize from = 1; from + PRD_OPENAI_REDACT_MIN_PARTIAL <= r->key_len; from++)
    {
      gsize n = key_match (text, end, r->key + from, r->key_len - from, FALSE);

      if (n > 0)
        return n;
    }
  for (guint i = 0; i < N_BASE64_FORMS; i++)
    {
      gsize len = r->base64_len[i];

      for (gsize from = 1; from + PRD_OPENAI_REDACT_MIN_PARTIAL <= len; from++)
        {
          gsize n = plain_match (text, end, r->base64[i] + from, len - from, FALSE);

          if (n > 0)
            return n;
        }
    }
  return 0;
}

/**
 * prd_openai_redact:
 * @text: what a provider said, or a message quoting it
 * @key: (nullable): the API key
 *
 * @text with every spelling of @key replaced by %PRD_OPENAI_REDACTED: the
 * key as it is (so `Bearer <key>` reads `Bearer [redacted]`), URL-encoded
 * (hex digits in either case, `+` for a space), JSON-escaped (`\uXXXX`,
 * `\/`), HTML-escaped (`&#NN;`, `&#xHH;`, `&amp;` …), any mix of those, and
 * the base64 of the bytes around it (`Basic`, in either alphabet) as far as
 * it depends on the key alone. At the end of @text the start of the key, at
 * its start the end of the key, in any of those spellings and at least
 * %PRD_OPENAI_REDACT_MIN_PARTIAL characters long, are replaced as well:
 * that is what a cut leaves of it.
 *
 * Returns: (transfer full): the text
 */
char *
prd_openai_redact (const char *text, const char *key)
{
  Redactor r = { 0 };
  GString *out;
  const char *p, *end;
  gsize n;

  g_return_val_if_fail (text != NULL, NULL);

  if (key == NULL || *key == '\0')
    return g_strdup (text);
  r.key = key;
  r.key_len = strlen (key);
  for (guint i = 0; i < N_BASE64_FORMS; i++)
    {
      r.base64[i] = base64_core (key, r.key_len, i / 2, i % 2 == 1);
      r.base64_len[i] = r.base64[i] != NULL ? strlen (r.base64[i]) : 0;
    }

  end = text + strlen (text);
  out = g_string_sized_new (end - text);
  p = text;
  if (key_match (p, end, r.key, r.key_len, FALSE) == 0 && (n = leading_suffix (&r, p, end)) > 0)
    {
      g_string_append (out, PRD_OPENAI_REDACTED);
      p += n;
    }
  while (p < end)
    {
      n = any_match (&r, p, end, TRUE);
      if (n > 0)
        {
          g_string_append (out, PRD_OPENAI_REDACTED);
          p += n;
        }
      else
        g_string_append_c (out, *p++);
    }

  for (guint i = 0; i < N_BASE64_FORMS; i++)
    g_free (r.base64[i]);
  return g_string_free (out, FALSE);
}
