/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Secrets out of what a remote service said.
 *
 * A service (an AI provider, Jira, Craft.io, Mattermost, a git remote), or
 * a proxy in front of it, may quote the request's credentials in its error:
 * as they are, URL-encoded, escaped for JSON or HTML, as the base64 of
 * `Basic`, and, where the hub cut the text (an error body is read up to a
 * bound; a connection may break off), only in part. The text reaches users,
 * job records, the activity feed and the log, so every one of those
 * spellings is replaced by PRD_REDACTED.
 *
 * An escape may itself be escaped (a key URL-encoded twice, then quoted in
 * HTML): the characters of an escape are read through the layers below it,
 * up to PRD_REDACT_MAX_LAYERS.
 *
 * It runs on error text only (at most the error body's bound), so it
 * matches by hand, one position at a time, decoding escapes as it goes,
 * rather than building a table of the key's spellings. A byte that starts
 * no escape costs one comparison however many layers are read, and a text
 * with no escape at all (most) is read through one layer only.
 */
#define G_LOG_DOMAIN "prd-redact"

#include "config.h"

#include <string.h>

#include "prd-redact.h"

/* The base64 of the key, at each of the three places it can start in a
 * group of three bytes, and in both alphabets; then the same for the key
 * URL-encoded (as userinfo in a URL is, before a client makes `Basic` of
 * it). */
#define N_BASE64_FORMS 12

typedef struct
{
  const char *key;
  gsize key_len;
  char *base64[N_BASE64_FORMS]; /* (owned) (nullable) the characters that depend on the key only */
  gsize base64_len[N_BASE64_FORMS];
} Redactor;

/* What one position of the text reads as through 0, 1 … @depth layers of
 * escapes (read_layers()). */
typedef struct
{
  const char *p; /* (nullable) the position; %NULL: none yet */
  guint depth;
  int chars[PRD_REDACT_MAX_LAYERS + 1];
  gsize lens[PRD_REDACT_MAX_LAYERS + 1];
  /* reading that deep met the end of the text inside what may be an escape */
  gboolean dangling[PRD_REDACT_MAX_LAYERS + 1];
} Layers;

/* An escape's characters are read through the layers below it, and theirs
 * again: without remembering what a position reads as, every layer would
 * double what a character costs. The positions read again are those read
 * shortly before (the escapes of one character are short), so a few are
 * remembered, by their place. */
#define N_CACHED_POSITIONS 256

typedef struct
{
  const char *end;
  guint depth; /* the layers worth reading: 1 if no escape could be escaped */
  Layers cache[N_CACHED_POSITIONS];
} Text;

/* The characters of the text as read through @depth layers of escapes,
 * one at a time from @p: what an escape's own characters are, when the
 * escape is itself escaped (`%252B` is `%` `2` `B` read through one layer,
 * `&#37;2B` too). */
typedef struct
{
  Text *text;
  const char *p;
  guint depth;
  gboolean dangling; /* the text ended where a character was wanted, or inside one */
} Reader;

static int read_char (Text *t, const char *p, guint depth, gsize *len, gboolean *dangling);

/* The next character, -1 at the end of the text. */
static int
reader_next (Reader *r)
{
  gsize len = 0;
  int c;

  if (r->p >= r->text->end)
    {
      r->dangling = TRUE;
      return -1;
    }
  c = read_char (r->text, r->p, r->depth, &len, &r->dangling);
  r->p += len;
  return c;
}

/* The value of the next @n characters as hex digits, -1 if they are not. */
static int
hex_digits (Reader *r, guint n)
{
  int value = 0;

  for (guint i = 0; i < n; i++)
    {
      int c = reader_next (r);
      int digit = c >= 0 && c < 128 ? g_ascii_xdigit_value ((char) c) : -1;

      if (digit < 0)
        return -1;
      value = value * 16 + digit;
    }
  return value;
}

/* What follows `&#`: decimal or (after `x`) hex digits and `;`. Leading
 * zeros are allowed; more than 7 digits are no ASCII character (and would
 * not fit an int). */
static int
html_number (Reader *r)
{
  int c = reader_next (r);
  gboolean hex = c == 'x' || c == 'X';
  int value = 0;
  guint n = 0;

  if (hex)
    c = reader_next (r);
  while (n < 7 && c >= 0 && c < 128 && (hex ? g_ascii_isxdigit (c) : g_ascii_isdigit (c)))
    {
      value = value * (hex ? 16 : 10) + (hex ? g_ascii_xdigit_value ((char) c) : c - '0');
      n++;
      c = reader_next (r);
    }
  return n > 0 && c == ';' ? value : -1;
}

/* What follows `&`: a number (html_number()) or one of the names that
 * HTML escapes ASCII with. */
static int
html_entity (Reader *r)
{
  static const struct
  {
    const char *name;
    char c;
  } entities[] = {
    { "amp;", '&' }, { "lt;", '<' }, { "gt;", '>' }, { "quot;", '"' }, { "apos;", '\'' },
  };
  guint alive = (1u << G_N_ELEMENTS (entities)) - 1; /* the names read so far may start */
  int c = reader_next (r);

  if (c == '#')
    return html_number (r);
  for (gsize n = 0; alive != 0; n++, c = reader_next (r))
    for (guint i = 0; i < G_N_ELEMENTS (entities); i++)
      {
        if ((alive & (1u << i)) == 0)
          continue;
        if (entities[i].name[n] != c)
          alive &= ~(1u << i);
        else if (entities[i].name[n + 1] == '\0')
          return entities[i].c;
      }
  return -1;
}

static gboolean
is_escape_start (int c)
{
  return c == '%' || c == '\\' || c == '&' || c == '+';
}

/* The character an escape at @p stands for, and its length in *@len: the
 * way URLs (`%2B`, `+` for a space), JSON (`\u002b`, `\/`) or HTML
 * (`&#43;`, `&#x2b;`, `&amp;`) write one. The escape's characters are read
 * through @depth layers of escapes; the first, @first, is @first_len bytes
 * long. -1 if there is none; then *@dangling is set if the text ends inside
 * what may be one. */
static int
unescape (
    Text *t, const char *p, guint depth, int first, gsize first_len, gsize *len, gboolean *dangling)
{
  Reader r = { t, p + first_len, depth, FALSE };
  int value = -1;

  switch (first)
    {
      case '+':
        value = ' ';
        break;
      case '%':
        value = hex_digits (&r, 2);
        break;
      case '\\':
        {
          int c = reader_next (&r);

          if (c == '"' || c == '\\' || c == '/')
            value = c;
          else if (c == 'u')
            value = hex_digits (&r, 4);
        }
        break;
      case '&':
        value = html_entity (&r);
        break;
      default:
        break;
    }
  if (value < 0)
    *dangling = *dangling || r.dangling;
  *len = (gsize) (r.p - p);
  return value;
}

/* What @p reads as through 0 to @depth layers of escapes (at most
 * PRD_REDACT_MAX_LAYERS), into @out: an escape at each layer is
 * decoded where there is one; where there is none, the character is the one
 * of the layer below. */
static void
read_layers (Text *t, const char *p, guint depth, Layers *out)
{
  Layers *cached = &t->cache[(guintptr) p % N_CACHED_POSITIONS];

  if (cached->p == p)
    *out = *cached;
  else
    {
      out->p = p;
      out->depth = 0;
      out->chars[0] = (guchar) *p;
      out->lens[0] = 1;
      out->dangling[0] = FALSE;
    }
  if (out->depth >= depth)
    return;
  for (guint d = out->depth + 1; d <= depth; d++)
    {
      gboolean dangling = out->dangling[d - 1];
      gsize len = 0;
      int value = -1;

      if (is_escape_start (out->chars[d - 1]))
        value = unescape (t, p, d - 1, out->chars[d - 1], out->lens[d - 1], &len, &dangling);
      out->chars[d] = value >= 0 ? value : out->chars[d - 1];
      out->lens[d] = value >= 0 ? len : out->lens[d - 1];
      out->dangling[d] = dangling;
    }
  out->depth = depth;
  /* (reading the escapes may have put another position there meanwhile) */
  *cached = *out;
}

/* The character at @p read through @depth layers of escapes, and its length
 * in *@len. */
static int
read_char (Text *t, const char *p, guint depth, gsize *len, gboolean *dangling)
{
  Layers layers;

  g_assert (depth <= PRD_REDACT_MAX_LAYERS);
  /* Every escape, however deep, starts with one of these bytes. */
  if (depth == 0 || !is_escape_start ((guchar) *p))
    {
      *len = 1;
      return (guchar) *p;
    }
  if (depth == 1)
    {
      /* (its escape's characters are bytes: nothing to remember) */
      int value = unescape (t, p, 0, (guchar) *p, 1, len, dangling);

      if (value >= 0)
        return value;
      *len = 1;
      return (guchar) *p;
    }
  read_layers (t, p, depth, &layers);
  *len = layers.lens[depth];
  *dangling = *dangling || layers.dangling[depth];
  return layers.chars[depth];
}

/* How many bytes from @p spell the key character @c: @c itself or an
 * escape of it, up to PRD_REDACT_MAX_LAYERS deep (read_layers());
 * the deepest reading is tried first if @escapes_first (a `\` of the key,
 * say, is `\\` in JSON), else the shallowest. 0 if none; then *@dangling
 * says whether the text ends inside what may be an escape. */
static gsize
spelling_length (Text *t, const char *p, char c, gboolean escapes_first, gboolean *dangling)
{
  Layers layers;

  *dangling = FALSE;
  if (p == t->end)
    return 0;
  if (!is_escape_start ((guchar) *p))
    return *p == c ? 1 : 0;
  read_layers (t, p, t->depth, &layers);
  *dangling = layers.dangling[t->depth];
  for (guint i = 0; i <= t->depth; i++)
    {
      guint d = escapes_first ? t->depth - i : i;

      if (layers.chars[d] == (guchar) c)
        return layers.lens[d];
    }
  return 0;
}

/* How many bytes from @p spell @want (@want_len characters of the key),
 * each character as spelling_length() allows. With @to_end, a text that
 * ends after at least PRD_REDACT_MIN_PARTIAL of them (a cut) counts
 * too, and is taken to its end. 0 if neither. */
static gsize
key_match_once (Text *t,
                const char *p,
                const char *want,
                gsize want_len,
                gboolean to_end,
                gboolean escapes_first)
{
  gsize consumed = 0;
  gsize matched = 0;

  while (matched < want_len)
    {
      const char *q = p + consumed;
      gboolean dangling = FALSE;
      gsize n;

      /* (most bytes start no escape) */
      if (q < t->end && *q == want[matched] && !is_escape_start ((guchar) *q))
        {
          consumed++;
          matched++;
          continue;
        }
      n = spelling_length (t, q, want[matched], escapes_first, &dangling);

      if (n == 0)
        {
          if (to_end && (p + consumed == t->end || dangling) && matched >= PRD_REDACT_MIN_PARTIAL)
            return (gsize) (t->end - p);
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
key_match (Text *t, const char *p, const char *want, gsize want_len, gboolean to_end)
{
  gsize n = key_match_once (t, p, want, want_len, to_end, FALSE);

  return n > 0 ? n : key_match_once (t, p, want, want_len, to_end, TRUE);
}

/* The same for a base64 form, which has no escapes. */
static gsize
plain_match (const char *p, const char *end, const char *want, gsize want_len, gboolean to_end)
{
  gsize avail = (gsize) (end - p);

  if (avail >= want_len)
    return memcmp (p, want, want_len) == 0 ? want_len : 0;
  if (to_end && avail >= PRD_REDACT_MIN_PARTIAL && memcmp (p, want, avail) == 0)
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

  if (stop < start + PRD_REDACT_MIN_PARTIAL)
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
any_match (const Redactor *r, Text *t, const char *p, gboolean to_end)
{
  gsize n = key_match (t, p, r->key, r->key_len, to_end);

  for (guint i = 0; n == 0 && i < N_BASE64_FORMS; i++)
    if (r->base64[i] != NULL)
      n = plain_match (p, t->end, r->base64[i], r->base64_len[i], to_end);
  return n;
}

/* How many bytes at the start of the text are the end of a spelling of the
 * key, at least PRD_REDACT_MIN_PARTIAL characters of it: what is left
 * of the key where the text was cut before it. The longest wins. */
static gsize
leading_suffix (const Redactor *r, Text *t, const char *text)
{
  for (gsize from = 1; from + PRD_REDACT_MIN_PARTIAL <= r->key_len; from++)
    {
      gsize n = key_match (t, text, r->key + from, r->key_len - from, FALSE);

      if (n > 0)
        return n;
    }
  for (guint i = 0; i < N_BASE64_FORMS; i++)
    {
      gsize len = r->base64_len[i];

      for (gsize from = 1; from + PRD_REDACT_MIN_PARTIAL <= len; from++)
        {
          gsize n = plain_match (text, t->end, r->base64[i] + from, len - from, FALSE);

          if (n > 0)
            return n;
        }
    }
  return 0;
}

/**
 * prd_redact:
 * @text: what a service said, or a message quoting it
 * @key: (nullable): the secret (an API key, a token, a password, a path)
 *
 * @text with every spelling of @key replaced by %PRD_REDACTED: the
 * key as it is (so `Bearer <key>` reads `Bearer [redacted]`), URL-encoded
 * (hex digits in either case, `+` for a space), JSON-escaped (`\uXXXX`,
 * `\/`), HTML-escaped (`&#NN;`, `&#xHH;`, `&amp;` …), any mix of those,
 * escapes escaped again (`%252B`, `&#37;2B`, `%5Cu002b`) up to
 * %PRD_REDACT_MAX_LAYERS layers, and the base64 of the bytes around
 * the key or the URL-encoded key (`Basic`, in either alphabet) as far as it
 * depends on the key alone. At the end of @text the start of the key, at
 * its start the end of the key, in any of those spellings and at least
 * %PRD_REDACT_MIN_PARTIAL characters long, are replaced as well:
 * that is what a cut leaves of it.
 *
 * A key shorter than %PRD_REDACT_MIN_PARTIAL characters is not looked for:
 * it would blank ordinary words, and gives away next to nothing.
 *
 * Returns: (transfer full): the text
 */
char *
prd_redact (const char *text, const char *key)
{
  Redactor r = { 0 };
  g_autofree char *url_key = NULL;
  g_autofree Text *t = NULL;
  GString *out;
  const char *p, *end;
  gsize n;

  g_return_val_if_fail (text != NULL, NULL);

  if (key == NULL || strlen (key) < PRD_REDACT_MIN_PARTIAL)
    return g_strdup (text);
  r.key = key;
  r.key_len = strlen (key);
  /* Every byte but RFC 3986's unreserved ones as `%XX`, upper case. */
  url_key = g_uri_escape_string (key, NULL, FALSE);
  for (guint i = 0; i < N_BASE64_FORMS; i++)
    {
      const char *form = i < N_BASE64_FORMS / 2 ? key : url_key;
      guint j = i % (N_BASE64_FORMS / 2);

      if (form == url_key && strcmp (url_key, key) == 0)
        continue;
      r.base64[i] = base64_core (form, strlen (form), j / 2, j % 2 == 1);
      r.base64_len[i] = r.base64[i] != NULL ? strlen (r.base64[i]) : 0;
    }

  end = text + strlen (text);
  t = g_new0 (Text, 1);
  t->end = end;
  t->depth = 1;
  /* An escape read through a second layer differs from the first only if
   * the text has an escape the first layer decodes (not `+`: a space is
   * part of no escape). Most texts have none, and are read once. */
  for (const char *q = text; q < end && t->depth == 1; q++)
    {
      gboolean dangling = FALSE;

      if (*q != '+' && is_escape_start ((guchar) *q) &&
          unescape (t, q, 0, (guchar) *q, 1, &n, &dangling) >= 0)
        t->depth = PRD_REDACT_MAX_LAYERS;
    }
  out = g_string_sized_new (end - text);
  p = text;
  if (key_match (t, p, r.key, r.key_len, FALSE) == 0 && (n = leading_suffix (&r, t, p)) > 0)
    {
      g_string_append (out, PRD_REDACTED);
      p += n;
    }
  while (p < end)
    {
      n = any_match (&r, t, p, TRUE);
      if (n > 0)
        {
          g_string_append (out, PRD_REDACTED);
          p += n;
        }
      else
        g_string_append_c (out, *p++);
    }

  for (guint i = 0; i < N_BASE64_FORMS; i++)
    g_free (r.base64[i]);
  return g_string_free (out, FALSE);
}

static int
longest_first (gconstpointer a, gconstpointer b)
{
  gsize la = strlen (*(const char *const *) a);
  gsize lb = strlen (*(const char *const *) b);

  return la > lb ? -1 : la < lb ? 1 : 0;
}

/**
 * prd_redact_all:
 * @text: what a service said, or a message quoting it
 * @secrets: (nullable) (element-type utf8): the secrets
 *
 * @text with every spelling of each of @secrets replaced, as prd_redact()
 * does, the longest secret first (so that a secret which contains another,
 * a webhook URL and its path, is replaced whole).
 *
 * Returns: (transfer full): the text
 */
char *
prd_redact_all (const char *text, GPtrArray *secrets)
{
  g_autoptr (GPtrArray) sorted = NULL;
  char *out;

  g_return_val_if_fail (text != NULL, NULL);

  out = g_strdup (text);
  if (secrets == NULL || secrets->len == 0)
    return out;
  /* (not g_ptr_array_copy(): the copy would free the secrets too) */
  sorted = g_ptr_array_sized_new (secrets->len);
  for (guint i = 0; i < secrets->len; i++)
    g_ptr_array_add (sorted, g_ptr_array_index (secrets, i));
  g_ptr_array_sort (sorted, longest_first);
  for (guint i = 0; i < sorted->len; i++)
    {
      char *next = prd_redact (out, g_ptr_array_index (sorted, i));

      g_free (out);
      out = next;
    }
  return out;
}
