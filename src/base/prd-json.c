/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The one JSON reader of the hub. Every JSON text that comes in — REST
 * bodies, Socket.IO payloads, the AI provider's events and answers, JWT
 * payloads, rows the hub reads back from its own database — goes through
 * prd_json_validate() (prd_json_parse() and prd_json_parse_full() call it),
 * with the same limits.
 *
 * json-glib 1.6 is lenient in ways that matter on a network boundary: it
 * accepts comments, single-quoted strings, hex and leading-zero numbers and
 * trailing garbage after the first value, silently wraps integers that do not
 * fit in 64 bits, turns 1e400 into infinity (which it then prints as invalid
 * JSON) and recurses without a depth limit (100,000 '[' overflow the stack).
 * Its strings are C strings, so an escaped U+0000 silently cuts a string
 * short, and an unpaired surrogate escape (\ud800) becomes bytes that are
 * not UTF-8. Every text is therefore first checked against the RFC 8259
 * grammar here, with a size and a depth limit, and strings are checked for
 * code points the hub cannot hold. Only then is the tree built, here too:
 * json-glib's parser (a GScanner) took about 60,000 instructions for a
 * 200-byte Socket.IO event, ten times what checking it takes, on the path of
 * every message a client sends. The tree is made of json-glib's nodes, as
 * its parser makes them (json_object_set_member(): the last of two members
 * of one name wins, in the place of the first). A checked text can also be
 * read in place, without a tree, with a PrdJsonCursor (see there).
 */
#define G_LOG_DOMAIN "prd-base"

#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "prd-error.h"
#include "prd-json.h"

typedef struct
{
  const char *p;
  const char *end;
  const char *start;
  GError **error;

  /* Unusable strings: the first one found, for the error message (with
   * PRD_JSON_PARSE_REPLACE_BAD_STRINGS, each is read as U+FFFD). */
  gboolean replace;
  const char *first_bad; /* (nullable): its backslash */
  const char *first_bad_what;

  gsize n_values; /* values met so far, containers and members' values included */
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

/* Four hex digits at @p (which has at least four bytes). */
static gboolean
read_hex4 (const char *p, guint *value)
{
  *value = 0;
  for (int i = 0; i < 4; i++)
    {
      int digit = g_ascii_xdigit_value (p[i]);

      if (digit < 0)
        return FALSE;
      *value = (*value << 4) | (guint) digit;
    }
  return TRUE;
}

/* A \uXXXX escape at @escape that is valid JSON but names no character the
 * hub can hold in a C string of UTF-8. */
static void
note_bad_escape (Scanner *s, const char *escape, const char *what)
{
  if (s->first_bad == NULL)
    {
      s->first_bad = escape;
      s->first_bad_what = what;
    }
}

static gboolean
scan_unicode_escape (Scanner *s)
{
  const char *escape = s->p - 1; /* the backslash */
  guint unit, low;

  s->p++; /* the 'u' */
  if (s->end - s->p < 4 || !read_hex4 (s->p, &unit))
    return fail (s, "bad \\u escape");
  s->p += 4;

  if (unit == 0)
    note_bad_escape (s, escape, "U+0000");
  else if (unit >= 0xDC00 && unit <= 0xDFFF)
    note_bad_escape (s, escape, "an unpaired low surrogate");
  else if (unit >= 0xD800 && unit <= 0xDBFF)
    {
      /* only a low surrogate escape right after it makes a character */
      if (s->end - s->p >= 6 && s->p[0] == '\\' && s->p[1] == 'u' && read_hex4 (s->p + 2, &low) &&
          low >= 0xDC00 && low <= 0xDFFF)
        s->p += 6;
      else
        note_bad_escape (s, escape, "an unpaired high surrogate");
    }
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
                if (!scan_unicode_escape (s))
                  return FALSE;
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

  if (depth >= PRD_JSON_MAX_DEPTH)
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
  s->n_values++;
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

/* ---- building the tree -------------------------------------------------------- */

/* The second pass, over text the scanner has accepted: no error is possible
 * here, and an unusable escape is only met with
 * PRD_JSON_PARSE_REPLACE_BAD_STRINGS (it reads as U+FFFD). */
typedef struct
{
  const char *p;
  GString *scratch; /* a decoded string */
} Builder;

static void
build_skip_ws (Builder *b)
{
  while (*b->p == ' ' || *b->p == '\t' || *b->p == '\n' || *b->p == '\r')
    b->p++;
}

/* Reads the checked string at *@pp (its opening quote) into @out, and leaves
 * *@pp after its closing quote. An unusable escape (U+0000, an unpaired
 * surrogate) reads as U+FFFD. */
static void
unescape_string (const char **pp, GString *out)
{
  const char *p = *pp + 1;

  g_string_truncate (out, 0);
  while (*p != '"')
    {
      const char *run = p;
      guint unit, low;

      if (*p != '\\')
        {
          while (*p != '"' && *p != '\\')
            p++;
          g_string_append_len (out, run, p - run);
          continue;
        }
      p += 2;
      switch (p[-1])
        {
          case 'b':
            g_string_append_c (out, '\b');
            continue;
          case 'f':
            g_string_append_c (out, '\f');
            continue;
          case 'n':
            g_string_append_c (out, '\n');
            continue;
          case 'r':
            g_string_append_c (out, '\r');
            continue;
          case 't':
            g_string_append_c (out, '\t');
            continue;
          case 'u':
            break;
          default: /* '"', '\\', '/' */
            g_string_append_c (out, p[-1]);
            continue;
        }
      read_hex4 (p, &unit);
      p += 4;
      if (unit >= 0xD800 && unit <= 0xDBFF && p[0] == '\\' && p[1] == 'u' &&
          read_hex4 (p + 2, &low) && low >= 0xDC00 && low <= 0xDFFF)
        {
          unit = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
          p += 6;
        }
      else if (unit == 0 || (unit >= 0xD800 && unit <= 0xDFFF))
        unit = 0xFFFD;
      g_string_append_unichar (out, unit);
    }
  *pp = p + 1;
}

static JsonNode *
build_number (Builder *b)
{
  const char *begin = b->p;
  gboolean integral = TRUE;
  char buf[64]; /* the scanner refused longer numbers */
  gsize len;

  if (*b->p == '-')
    b->p++;
  for (; g_ascii_isdigit (*b->p) || *b->p == '.' || *b->p == 'e' || *b->p == 'E' || *b->p == '+' ||
         *b->p == '-';
       b->p++)
    if (!g_ascii_isdigit (*b->p))
      integral = FALSE;
  len = (gsize) (b->p - begin);
  memcpy (buf, begin, len);
  buf[len] = '\0';
  if (integral)
    return json_node_init_int (json_node_alloc (), g_ascii_strtoll (buf, NULL, 10));
  return json_node_init_double (json_node_alloc (), g_ascii_strtod (buf, NULL));
}

static JsonNode *build_value (Builder *b);

static JsonNode *
build_array (Builder *b)
{
  JsonArray *array = json_array_new ();
  JsonNode *node = json_node_alloc ();

  b->p++;
  build_skip_ws (b);
  while (*b->p != ']')
    {
      JsonNode *element = build_value (b);

      json_node_set_parent (element, node);
      json_array_add_element (array, element);
      build_skip_ws (b);
      if (*b->p == ',')
        b->p++;
    }
  b->p++;
  json_node_init_array (node, array);
  json_array_unref (array);
  return node;
}

static JsonNode *
build_object (Builder *b)
{
  JsonObject *object = json_object_new ();
  JsonNode *node = json_node_alloc ();

  b->p++;
  build_skip_ws (b);
  while (*b->p != '}')
    {
      g_autofree char *long_name = NULL;
      char short_name[64];
      const char *name;
      JsonNode *member;

      build_skip_ws (b);
      unescape_string (&b->p, b->scratch);
      /* The value's strings go through the scratch buffer too. */
      if (b->scratch->len < sizeof short_name)
        name = memcpy (short_name, b->scratch->str, b->scratch->len + 1);
      else
        name = long_name = g_strndup (b->scratch->str, b->scratch->len);
      build_skip_ws (b);
      b->p++; /* ':' */
      member = build_value (b);
      json_node_set_parent (member, node);
      json_object_set_member (object, name, member);
      build_skip_ws (b);
      if (*b->p == ',')
        b->p++;
    }
  b->p++;
  json_node_init_object (node, object);
  json_object_unref (object);
  return node;
}

static JsonNode *
build_value (Builder *b)
{
  build_skip_ws (b);
  switch (*b->p)
    {
      case '{':
        return build_object (b);
      case '[':
        return build_array (b);
      case '"':
        unescape_string (&b->p, b->scratch);
        return json_node_init_string (json_node_alloc (), b->scratch->str);
      case 't':
        b->p += 4;
        return json_node_init_boolean (json_node_alloc (), TRUE);
      case 'f':
        b->p += 5;
        return json_node_init_boolean (json_node_alloc (), FALSE);
      case 'n':
        b->p += 4;
        return json_node_init_null (json_node_alloc ());
      default:
        return build_number (b);
    }
}

/**
 * prd_json_validate_full:
 * @text: UTF-8 JSON text (need not be nul-terminated when @len is given)
 * @len: its length in bytes, or -1 when @text is nul-terminated
 * @max_size: the largest @len accepted; 0 for %PRD_JSON_DEFAULT_MAX_SIZE,
 *   %G_MAXSIZE when the caller has bounded the text already (e.g. a
 *   transport's message limit)
 * @flags: #PrdJsonParseFlags (only %PRD_JSON_PARSE_REPLACE_BAD_STRINGS
 *   matters here)
 * @has_bad_strings: (out) (optional): with
 *   %PRD_JSON_PARSE_REPLACE_BAD_STRINGS, whether a string held U+0000 or an
 *   unpaired surrogate
 * @n_values: (out) (optional): how many values @text holds: every array,
 *   object, string, number and literal, nested ones included (a member's
 *   name is not one). A tree of the text has as many nodes; this is what
 *   building it costs, which a caller may bound before it does
 *
 * Checks that @text is exactly one JSON value (RFC 8259, nothing else around
 * it but white space), nested at most %PRD_JSON_MAX_DEPTH deep. Numbers must
 * fit what json-glib holds (a gint64 for integers, a finite double
 * otherwise). A string escape of U+0000 (C strings end there) or a surrogate
 * that is not part of a pair (not a character at all) makes the text
 * unusable: it fails unless @flags has %PRD_JSON_PARSE_REPLACE_BAD_STRINGS.
 *
 * A text that passed may be read with a #PrdJsonCursor or turned into a tree
 * with prd_json_build_checked(), without being checked again.
 *
 * Returns: %FALSE with %PRD_ERROR_INVALID_PAYLOAD (not JSON, too deep, an
 *   unusable string) or %PRD_ERROR_PAYLOAD_TOO_LARGE (@len over @max_size)
 */
gboolean
prd_json_validate_full (const char *text,
                        gssize len,
                        gsize max_size,
                        PrdJsonParseFlags flags,
                        gboolean *has_bad_strings,
                        gsize *n_values,
                        GError **error)
{
  Scanner s = { 0 };
  gsize size;

  g_return_val_if_fail (text != NULL || len <= 0, FALSE);

  if (has_bad_strings != NULL)
    *has_bad_strings = FALSE;
  if (n_values != NULL)
    *n_values = 0;
  if (text == NULL)
    text = "";
  size = len < 0 ? strlen (text) : (gsize) len;
  if (max_size == 0)
    max_size = PRD_JSON_DEFAULT_MAX_SIZE;
  if (size > max_size)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_PAYLOAD_TOO_LARGE,
                   "JSON text of %" G_GSIZE_FORMAT " bytes is over the limit of %" G_GSIZE_FORMAT
                   " bytes",
                   size, max_size);
      return FALSE;
    }
  /* also refuses NUL bytes and UTF-8 encoded surrogates */
  if (!g_utf8_validate_len (text, size, NULL))
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD, "JSON is not valid UTF-8");
      return FALSE;
    }

  s.p = s.start = text;
  s.end = text + size;
  s.error = error;
  s.replace = (flags & PRD_JSON_PARSE_REPLACE_BAD_STRINGS) != 0;
  if (!scan_value (&s, 0))
    return FALSE;
  skip_ws (&s);
  if (s.p != s.end)
    return fail (&s, "trailing data after JSON value");
  if (s.first_bad != NULL)
    {
      if (!s.replace)
        {
          g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
                       "Unusable JSON string at offset %ld: it holds %s",
                       (long) (s.first_bad - s.start), s.first_bad_what);
          return FALSE;
        }
      if (has_bad_strings != NULL)
        *has_bad_strings = TRUE;
    }
  if (n_values != NULL)
    *n_values = s.n_values;
  return TRUE;
}

/**
 * prd_json_validate:
 *
 * prd_json_validate_full() without the count of values.
 */
gboolean
prd_json_validate (const char *text,
                   gssize len,
                   gsize max_size,
                   PrdJsonParseFlags flags,
                   gboolean *has_bad_strings,
                   GError **error)
{
  return prd_json_validate_full (text, len, max_size, flags, has_bad_strings, NULL, error);
}

/**
 * prd_json_build_checked:
 * @text: a text prd_json_validate() accepted
 * @len: its length in bytes, or -1 when @text is nul-terminated
 * @flags: %PRD_JSON_PARSE_IMMUTABLE for a sealed tree; an unusable string
 *   (which prd_json_validate() let through only with
 *   %PRD_JSON_PARSE_REPLACE_BAD_STRINGS) reads as U+FFFD
 *
 * Builds the tree of a checked text. Nothing is checked again: @text must be
 * the very bytes prd_json_validate() accepted.
 *
 * Returns: (transfer full): the value
 */
JsonNode *
prd_json_build_checked (const char *text, gssize len, PrdJsonParseFlags flags)
{
  Builder b = { 0 };
  g_autofree char *terminated = NULL;
  JsonNode *root;

  g_return_val_if_fail (text != NULL, NULL);

  /* The builder stops at the delimiters the scanner has seen: a number
   * at the very end of a text that is not nul-terminated needs one. */
  if (len > 0 && g_ascii_isdigit (text[len - 1]))
    b.p = terminated = g_strndup (text, (gsize) len);
  else
    b.p = text;
  b.scratch = g_string_new (NULL);
  root = build_value (&b);
  g_string_free (b.scratch, TRUE);
  if ((flags & PRD_JSON_PARSE_IMMUTABLE) != 0)
    json_node_seal (root);
  return root;
}

/**
 * prd_json_parse_full:
 * @text: UTF-8 JSON text (need not be nul-terminated when @len is given)
 * @len: its length in bytes, or -1 when @text is nul-terminated
 * @max_size: as for prd_json_validate()
 * @flags: #PrdJsonParseFlags
 * @has_bad_strings: (out) (optional): with
 *   %PRD_JSON_PARSE_REPLACE_BAD_STRINGS, whether a string held U+0000 or an
 *   unpaired surrogate (each read as U+FFFD)
 *
 * prd_json_validate(), then prd_json_build_checked().
 *
 * Returns: (transfer full): the value, or %NULL with %PRD_ERROR_INVALID_PAYLOAD
 *   (not JSON, too deep, an unusable string) or %PRD_ERROR_PAYLOAD_TOO_LARGE
 *   (@len over @max_size)
 */
JsonNode *
prd_json_parse_full (const char *text,
                     gssize len,
                     gsize max_size,
                     PrdJsonParseFlags flags,
                     gboolean *has_bad_strings,
                     GError **error)
{
  if (!prd_json_validate (text, len, max_size, flags, has_bad_strings, error))
    return NULL;
  return prd_json_build_checked (text != NULL ? text : "", len, flags);
}

/**
 * prd_json_parse:
 * @text: UTF-8 JSON text
 * @len: its length in bytes, or -1 when @text is nul-terminated
 * @max_size: the largest @len accepted; 0 for %PRD_JSON_DEFAULT_MAX_SIZE
 *
 * prd_json_parse_full() with no flags: a mutable tree, and any string holding
 * U+0000 or an unpaired surrogate refuses the whole text.
 *
 * Returns: (transfer full): the one JSON value in @text, or %NULL with
 *   %PRD_ERROR_INVALID_PAYLOAD or %PRD_ERROR_PAYLOAD_TOO_LARGE
 */
JsonNode *
prd_json_parse (const char *text, gssize len, gsize max_size, GError **error)
{
  return prd_json_parse_full (text, len, max_size, PRD_JSON_PARSE_DEFAULT, NULL, error);
}

/* ---- reading a checked text in place ------------------------------------------- */

/*
 * A PrdJsonCursor walks a text prd_json_validate() accepted, for the few
 * events read often enough that building a tree for them shows (a
 * content-update: a dozen nodes, each a GSlice block, most with a string or
 * a hash table of their own). It reads only what its caller asks for and
 * checks nothing the validator checked; a caller that meets anything other
 * than the shape it expects reads the text again as a tree.
 */

static void
cursor_skip_ws (PrdJsonCursor *c)
{
  while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
    c->p++;
}

/**
 * prd_json_cursor_init:
 * @text: a text prd_json_validate() accepted, or a part of one that is a
 *   list of values separated by commas (the arguments of an event)
 * @len: its length in bytes
 *
 * Places @cursor before the first value of @text.
 */
void
prd_json_cursor_init (PrdJsonCursor *cursor, const char *text, gsize len)
{
  g_return_if_fail (cursor != NULL);
  g_return_if_fail (text != NULL || len == 0);

  cursor->p = text;
  cursor->end = text + len;
}

/**
 * prd_json_cursor_peek:
 *
 * Returns: the first byte of the next value (`{`, `[`, `"`, `t`, `f`, `n`,
 *   `-` or a digit), or 0 when a container or the text ends there
 */
char
prd_json_cursor_peek (PrdJsonCursor *cursor)
{
  cursor_skip_ws (cursor);
  if (cursor->p >= cursor->end || *cursor->p == ',' || *cursor->p == ']' || *cursor->p == '}')
    return 0;
  return *cursor->p;
}

/**
 * prd_json_cursor_enter:
 * @open: `{` or `[`
 *
 * Steps into the object or array that comes next; walk its members or
 * elements with prd_json_cursor_next().
 *
 * Returns: %FALSE, with nothing read, when the next value is not one
 */
gboolean
prd_json_cursor_enter (PrdJsonCursor *cursor, char open)
{
  g_return_val_if_fail (open == '{' || open == '[', FALSE);

  if (prd_json_cursor_peek (cursor) != open)
    return FALSE;
  cursor->p++;
  return TRUE;
}

/**
 * prd_json_cursor_next:
 *
 * Moves to the next member or element of the container last entered (or the
 * next value of a list given to prd_json_cursor_init()); read it, or skip it
 * with prd_json_cursor_skip(), before calling this again.
 *
 * Returns: %TRUE when there is one; %FALSE at the end of the container,
 *   which is then left
 */
gboolean
prd_json_cursor_next (PrdJsonCursor *cursor)
{
  cursor_skip_ws (cursor);
  if (cursor->p >= cursor->end)
    return FALSE;
  if (*cursor->p == ']' || *cursor->p == '}')
    {
      cursor->p++;
      return FALSE;
    }
  if (*cursor->p == ',')
    {
      cursor->p++;
      cursor_skip_ws (cursor);
    }
  return TRUE;
}

/**
 * prd_json_cursor_read_name:
 * @name: (out) (transfer none): the member's name, in the text (not
 *   nul-terminated)
 * @name_len: (out): its length in bytes
 *
 * Reads the name of the member prd_json_cursor_next() moved to, and its
 * colon; its value comes next.
 *
 * Returns: %FALSE, with nothing read, when the name holds an escape (it
 *   cannot be compared as it is)
 */
gboolean
prd_json_cursor_read_name (PrdJsonCursor *cursor, const char **name, gsize *name_len)
{
  const char *start = cursor->p + 1;
  const char *p = start;

  g_return_val_if_fail (cursor->p < cursor->end && *cursor->p == '"', FALSE);

  while (*p != '"')
    {
      if (*p == '\\')
        return FALSE;
      p++;
    }
  *name = start;
  *name_len = (gsize) (p - start);
  cursor->p = p + 1;
  cursor_skip_ws (cursor);
  cursor->p++; /* ':' */
  return TRUE;
}

/**
 * prd_json_cursor_read_string:
 * @out: receives the string, unescaped
 *
 * Returns: %FALSE, with nothing read, when the next value is not a string
 */
gboolean
prd_json_cursor_read_string (PrdJsonCursor *cursor, GString *out)
{
  if (prd_json_cursor_peek (cursor) != '"')
    return FALSE;
  unescape_string (&cursor->p, out);
  return TRUE;
}

/**
 * prd_json_cursor_read_int:
 * @out: (out): the value
 *
 * Reads an integer: a number written without fraction or exponent, which is
 * what a tree holds as %G_TYPE_INT64.
 *
 * Returns: %FALSE, with nothing read, when the next value is not one
 */
gboolean
prd_json_cursor_read_int (PrdJsonCursor *cursor, gint64 *out)
{
  char c = prd_json_cursor_peek (cursor);
  const char *p = cursor->p;
  char buf[64]; /* the validator refused longer numbers */
  gsize len;

  if (c != '-' && !g_ascii_isdigit (c))
    return FALSE;
  if (*p == '-')
    p++;
  while (p < cursor->end && g_ascii_isdigit (*p))
    p++;
  if (p < cursor->end && (*p == '.' || *p == 'e' || *p == 'E'))
    return FALSE;
  len = (gsize) (p - cursor->p);
  memcpy (buf, cursor->p, len);
  buf[len] = '\0';
  *out = g_ascii_strtoll (buf, NULL, 10);
  cursor->p = p;
  return TRUE;
}

/**
 * prd_json_cursor_skip:
 *
 * Steps over the next value, whatever it is.
 */
void
prd_json_cursor_skip (PrdJsonCursor *cursor)
{
  guint depth = 0;

  do
    {
      switch (prd_json_cursor_peek (cursor))
        {
          case '{':
          case '[':
            depth++;
            cursor->p++;
            break;
          case '"':
            for (cursor->p++; *cursor->p != '"'; cursor->p++)
              if (*cursor->p == '\\')
                cursor->p++;
            cursor->p++;
            break;
          case 0:
            /* the end of a container, or a ',' between its values */
            if (depth == 0 || cursor->p >= cursor->end)
              return;
            if (*cursor->p != ',')
              depth--;
            cursor->p++;
            break;
          default: /* a literal or a number */
            while (cursor->p < cursor->end && *cursor->p != ',' && *cursor->p != ']' &&
                   *cursor->p != '}' && *cursor->p != ' ' && *cursor->p != '\t' &&
                   *cursor->p != '\n' && *cursor->p != '\r')
              cursor->p++;
            break;
        }
      /* a member's name and its colon are read like a string and skipped */
      if (depth > 0)
        {
          cursor_skip_ws (cursor);
          if (cursor->p < cursor->end && *cursor->p == ':')
            cursor->p++;
        }
    }
  while (depth > 0);
}

/**
 * prd_json_cursor_get_position:
 *
 * Returns: (transfer none): where in the text @cursor is (after the last
 *   value read or skipped)
 */
const char *
prd_json_cursor_get_position (PrdJsonCursor *cursor)
{
  return cursor->p;
}

/* ---- writing ---------------------------------------------------------------------- */

/**
 * prd_json_write_string:
 * @out: where the text goes
 * @str: UTF-8 (it is written as it is held)
 *
 * Appends @str as a JSON string: `"` and `\\` escaped, every control
 * character escaped (`\\n`, or `\\u001f` for those without a short form),
 * everything else, non-ASCII included, as it is. This is the writer of
 * prd_json_to_string(), for callers that write their JSON text directly.
 */
void
prd_json_write_string (GString *out, const char *str)
{
  static const char hex[] = "0123456789abcdef";
  const guchar *p = (const guchar *) str;
  const guchar *run = p;

  g_string_append_c (out, '"');
  for (;; p++)
    {
      guchar c = *p;
      char escape[6];
      gsize n = 2;

      if (G_LIKELY (c >= 0x20 && c != '"' && c != '\\'))
        continue;
      /* a run of bytes that need no escape, in one append */
      if (p > run)
        g_string_append_len (out, (const char *) run, p - run);
      if (c == '\0')
        break;
      run = p + 1;
      escape[0] = '\\';
      switch (c)
        {
          case '"':
          case '\\':
            escape[1] = (char) c;
            break;
          case '\b':
            escape[1] = 'b';
            break;
          case '\f':
            escape[1] = 'f';
            break;
          case '\n':
            escape[1] = 'n';
            break;
          case '\r':
            escape[1] = 'r';
            break;
          case '\t':
            escape[1] = 't';
            break;
          default:
            escape[1] = 'u';
            escape[2] = '0';
            escape[3] = '0';
            escape[4] = hex[c >> 4];
            escape[5] = hex[c & 0xf];
            n = 6;
            break;
        }
      g_string_append_len (out, escape, n);
    }
  g_string_append_c (out, '"');
}

/**
 * prd_json_write_int:
 * @out: where the text goes
 * @value: any 64-bit integer
 *
 * Appends @value in decimal. printf() costs a thousand instructions for what
 * this does in a few dozen, and the hub writes state vectors, arrays of
 * integers, in every event.
 */
void
prd_json_write_int (GString *out, gint64 value)
{
  char buf[24];
  char *p = buf + sizeof buf;
  guint64 u = value < 0 ? -(guint64) value : (guint64) value;

  do
    *--p = (char) ('0' + u % 10);
  while ((u /= 10) != 0);
  if (value < 0)
    *--p = '-';
  g_string_append_len (out, p, buf + sizeof buf - p);
}

static void
write_double (GString *out, double d)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];

  if (!isfinite (d))
    {
      g_string_append (out, "null");
      return;
    }
  /* The shortest form that reads back as the same double. */
  for (int digits = 15; digits <= 17; digits++)
    {
      g_autofree char *format = g_strdup_printf ("%%.%dg", digits);

      g_ascii_formatd (buf, sizeof buf, format, d);
      if (g_ascii_strtod (buf, NULL) == d)
        break;
    }
  g_string_append (out, buf);
  /* Still a double when read again. */
  if (strpbrk (buf, ".eE") == NULL)
    g_string_append (out, ".0");
}

static void write_node (GString *out, JsonNode *node);

static void
write_member (JsonObject *object, const char *name, JsonNode *node, gpointer user_data)
{
  GString *out = user_data;

  if (out->str[out->len - 1] != '{')
    g_string_append_c (out, ',');
  prd_json_write_string (out, name);
  g_string_append_c (out, ':');
  write_node (out, node);
}

static void
write_node (GString *out, JsonNode *node)
{
  switch (JSON_NODE_TYPE (node))
    {
      case JSON_NODE_OBJECT:
        g_string_append_c (out, '{');
        json_object_foreach_member (json_node_get_object (node), write_member, out);
        g_string_append_c (out, '}');
        break;
      case JSON_NODE_ARRAY:
        {
          JsonArray *array = json_node_get_array (node);

          g_string_append_c (out, '[');
          for (guint i = 0; i < json_array_get_length (array); i++)
            {
              if (i > 0)
                g_string_append_c (out, ',');
              write_node (out, json_array_get_element (array, i));
            }
          g_string_append_c (out, ']');
        }
        break;
      case JSON_NODE_VALUE:
        switch (json_node_get_value_type (node))
          {
            case G_TYPE_INT64:
              prd_json_write_int (out, json_node_get_int (node));
              break;
            case G_TYPE_DOUBLE:
              write_double (out, json_node_get_double (node));
              break;
            case G_TYPE_BOOLEAN:
              g_string_append (out, json_node_get_boolean (node) ? "true" : "false");
              break;
            case G_TYPE_STRING:
              prd_json_write_string (out, json_node_get_string (node));
              break;
            default:
              g_string_append (out, "null");
              break;
          }
        break;
      case JSON_NODE_NULL:
      default:
        g_string_append (out, "null");
        break;
    }
}

/**
 * prd_json_to_string:
 * @node: a JSON tree
 *
 * Writes @node as compact JSON that every strict reader accepts, the hub's
 * own included: json-glib 1.6's writer leaves U+001F unescaped and writes
 * doubles such as 1e308 as `1e+308.0`, neither of which is JSON. Strings are
 * written as they are held (UTF-8), with every control character escaped;
 * a double stays a double (`1.0`), a non-finite one becomes `null`.
 *
 * Returns: (transfer full): the JSON text
 */
char *
prd_json_to_string (JsonNode *node)
{
  GString *out = g_string_new (NULL);

  g_return_val_if_fail (node != NULL, NULL);

  write_node (out, node);
  return g_string_free (out, FALSE);
}
