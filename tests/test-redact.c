/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * prd_redact() and prd_redact_all(): secrets out of what a service said,
 * in every spelling, whole and cut.
 */
#include "config.h"

#include <string.h>

#include "prd-redact.h"

/* A key of every sort of character that URLs, JSON and base64 treat
 * apart. */
#define SPELLED_KEY "sk-TOP+SECRET/0123456789=abcdefXYZ"

/* prd_redact(): every spelling of the key (an AI provider's, as in
 * test-ai-provider.c), whole, and cut at either
 * end of the text down to PRD_REDACT_MIN_PARTIAL characters. */
static void
test_redact (void)
{
  static const struct
  {
    const char *key;
    const char *text;
    const char *expected;
  } cases[] = {
    { SPELLED_KEY, "nothing to hide", "nothing to hide" },
    { NULL, "Bearer " SPELLED_KEY, "Bearer " SPELLED_KEY },
    { "", "Bearer " SPELLED_KEY, "Bearer " SPELLED_KEY },
    { SPELLED_KEY, "Bearer " SPELLED_KEY ".", "Bearer [redacted]." },
    { SPELLED_KEY, SPELLED_KEY " and " SPELLED_KEY, "[redacted] and [redacted]" },
    /* URL-encoded, hex digits in either case */
    { SPELLED_KEY, "?key=sk-TOP%2BSECRET%2F0123456789%3DabcdefXYZ&x=1", "?key=[redacted]&x=1" },
    { SPELLED_KEY, "?key=sk-TOP%2bSECRET%2f0123456789%3dabcdefXYZ&x=1", "?key=[redacted]&x=1" },
    { SPELLED_KEY, "%73%6B%2D%54OP+SECRET/0123456789=abcdefXYZ", "[redacted]" },
    { "pass word", "p=pass+word&q", "p=[redacted]&q" },
    { "pass word", "p=pass%20word&q", "p=[redacted]&q" },
    /* JSON-escaped, as text the hub did not parse */
    { SPELLED_KEY, "{\"k\":\"sk-TOP+SECRET\\/0123456789=abcdefXYZ\"}", "{\"k\":\"[redacted]\"}" },
    { SPELLED_KEY, "\"\\u0073\\u006B-TOP\\u002bSECRET/0123456789=abcdefXYZ\"", "\"[redacted]\"" },
    { "a\"b\\c/d", "k=\"a\\\"b\\\\c\\/d\"", "k=\"[redacted]\"" },
    /* HTML-escaped */
    { SPELLED_KEY, "<b>sk-TOP&#43;SECRET&#x2F;0123456789&#61;abcdefXYZ</b>", "<b>[redacted]</b>" },
    { "k&<y>", "<i>k&amp;&lt;y&gt;</i>", "<i>[redacted]</i>" },
    { SPELLED_KEY, "sk-TOP&#0043;SECRET&#X2f;0123456789&#x3D;abcdefXYZ", "[redacted]" },
    { SPELLED_KEY, "Tom & Jerry; 100% \\ +1", "Tom & Jerry; 100% \\ +1" },
    /* Escapes escaped again: URL-encoded twice, URL-encoded then HTML- or
     * JSON-escaped, JSON-escaped then URL-encoded, HTML-escaped twice */
    { SPELLED_KEY, "bad key sk-TOP%252BSECRET%252F0123456789%253DabcdefXYZ", "bad key [redacted]" },
    { SPELLED_KEY, "bad key sk-TOP&#37;2BSECRET&#37;2F0123456789&#37;3DabcdefXYZ",
      "bad key [redacted]" },
    { SPELLED_KEY, "sk-TOP\\u00252BSECRET\\u00252F0123456789\\u00253DabcdefXYZ", "[redacted]" },
    { SPELLED_KEY, "\"sk-TOP%5Cu002bSECRET%5C/0123456789=abcdefXYZ\"", "\"[redacted]\"" },
    { SPELLED_KEY, "<p>sk-TOP&amp;#43;SECRET&amp;#x2f;0123456789&amp;#61;abcdefXYZ</p>",
      "<p>[redacted]</p>" },
    /* and the escape's own characters escaped, not only its start */
    { SPELLED_KEY, "sk-TOP%&#50;&#66;SECRET/0123456789=abcdefXYZ", "[redacted]" },
    /* and cut inside a nested escape */
    { SPELLED_KEY, "Incorrect key: sk-TOP%252BSEC", "Incorrect key: [redacted]" },
    { SPELLED_KEY, "Incorrect key: sk-TOP%252", "Incorrect key: [redacted]" },
    { SPELLED_KEY, "Incorrect key: sk-TOP&#37;2", "Incorrect key: [redacted]" },
    { SPELLED_KEY, "0123456789%253DabcdefXYZ was refused", "[redacted] was refused" },
    /* escapes of escapes that spell no key stay, whole or malformed */
    { SPELLED_KEY, "100%25 %2525 &amp;amp; %5C &#37;%", "100%25 %2525 &amp;amp; %5C &#37;%" },
    { SPELLED_KEY, "&#37;2&#37;&amp;#x&amp;#99999999;%5Cu00%25",
      "&#37;2&#37;&amp;#x&amp;#99999999;%5Cu00%25" },
    /* `Basic` of `:key`: the characters that depend on the key alone */
    { SPELLED_KEY,
      "Basic OnNrLVRPUCtTRUNSRVQvMDEyMzQ1Njc4OT1hYmNkZWZYWVo=", "Basic On[redacted]o=" },
    /* and of `:` and the key URL-encoded (userinfo of a URL) */
    { SPELLED_KEY,
      "Basic OnNrLVRPUCUyQlNFQ1JFVCUyRjAxMjM0NTY3ODklM0RhYmNkZWZYWVo=", "Basic On[redacted]o=" },
    /* Cut at the end: the start of the key, down to the minimum */
    { SPELLED_KEY, "Incorrect key: sk-TOP+SECRET/01234", "Incorrect key: [redacted]" },
    { SPELLED_KEY, "Incorrect key: sk-T", "Incorrect key: [redacted]" },
    { SPELLED_KEY, "Incorrect key: sk-", "Incorrect key: sk-" },
    { SPELLED_KEY, "Incorrect key: sk-TOP%2BSEC", "Incorrect key: [redacted]" },
    { SPELLED_KEY, "Incorrect key: sk-TOP%2", "Incorrect key: [redacted]" },
    { SPELLED_KEY, "Incorrect key: sk-TOP\\u002", "Incorrect key: [redacted]" },
    { SPELLED_KEY, "<p>sk-TOP&#4", "<p>[redacted]" },
    { SPELLED_KEY, "Basic OnNrLVRPUCtTRU", "Basic On[redacted]" },
    /* Cut at the start: the end of the key, down to the minimum */
    { SPELLED_KEY, "9=abcdefXYZ was refused", "[redacted] was refused" },
    { SPELLED_KEY, "fXYZ was refused", "[redacted] was refused" },
    { SPELLED_KEY, "XYZ was refused", "XYZ was refused" },
    { SPELLED_KEY, "9%3DabcdefXYZ was refused", "[redacted] was refused" },
    /* Not cut: a piece of the key inside a text that goes on is not it */
    { SPELLED_KEY, "sk-TOP is not a key", "sk-TOP is not a key" },
    { SPELLED_KEY, "key is not abcdefXYZ", "key is not abcdefXYZ" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *redacted = prd_redact (cases[i].text, cases[i].key);

      g_test_message ("%s -> %s", cases[i].text, redacted);
      g_assert_cmpstr (redacted, ==, cases[i].expected);
    }

  /* The key wholly percent-encoded */
  {
    g_autoptr (GString) text = g_string_new ("[");
    g_autofree char *redacted = NULL;

    for (const char *c = SPELLED_KEY; *c != '\0'; c++)
      g_string_append_printf (text, "%%%02x", (guchar) *c);
    g_string_append (text, "]");
    redacted = prd_redact (text->str, SPELLED_KEY);
    g_assert_cmpstr (redacted, ==, "[" PRD_REDACTED "]");
  }

  /* A layer of escapes more, up to PRD_REDACT_MAX_LAYERS: the `+`
   * URL-encoded, then its `%` URL-encoded again, and again. One layer
   * more stays (the key's start does not end the text). */
  for (guint layers = 1; layers <= PRD_REDACT_MAX_LAYERS + 1; layers++)
    {
      g_autoptr (GString) plus = g_string_new ("%");
      g_autofree char *text = NULL;
      g_autofree char *redacted = NULL;

      for (guint i = 1; i < layers; i++)
        g_string_append (plus, "25");
      g_string_append (plus, "2B");
      text = g_strconcat ("sk-TOP", plus->str, "SECRET/0123456789=abcdefXYZ", NULL);
      redacted = prd_redact (text, SPELLED_KEY);
      g_test_message ("%s -> %s", text, redacted);
      g_assert_cmpstr (redacted, ==, layers <= PRD_REDACT_MAX_LAYERS ? PRD_REDACTED : text);
    }

  /* base64 of a key after 0, 1 and 2 bytes and before one, in both
   * alphabets (its `?` and `>` give `/` and `+`, or `_` and `-`): what is
   * left is only what depends on those bytes. */
  for (guint before = 0; before < 3; before++)
    for (guint url_safe = 0; url_safe < 2; url_safe++)
      {
        static const char key[] = "sk-\?\?\?\?\?\?>>>>>>XYZ";
        g_autofree char *colons = g_strnfill (before, ':');
        g_autofree char *plain = g_strconcat (colons, key, "!", NULL);
        g_autofree char *encoded = g_base64_encode ((const guchar *) plain, strlen (plain));
        g_autofree char *redacted = NULL;
        const char *mark;

        g_assert_nonnull (strchr (encoded, '+'));
        g_assert_nonnull (strchr (encoded, '/'));
        if (url_safe)
          {
            g_strdelimit (encoded, "+", '-');
            g_strdelimit (encoded, "/", '_');
          }
        redacted = prd_redact (encoded, key);
        g_test_message ("%s -> %s", encoded, redacted);
        mark = strstr (redacted, PRD_REDACTED);
        g_assert_nonnull (mark);
        g_assert_cmpuint (mark - redacted, <=, (8 * before + 5) / 6);
        /* the bits of `!` and the padding */
        g_assert_cmpuint (strlen (mark + strlen (PRD_REDACTED)), <=, 4);
      }
}

/* Secrets shorter than PRD_REDACT_MIN_PARTIAL are not looked for: they
 * would blank ordinary words. */
static void
test_redact_short (void)
{
  g_autofree char *three = prd_redact ("the pin was refused", "the");
  g_autofree char *four = prd_redact ("pin abcd refused", "abcd");

  g_assert_cmpstr (three, ==, "the pin was refused");
  g_assert_cmpstr (four, ==, "pin " PRD_REDACTED " refused");
}

/* Several secrets at once: each in each of its spellings; a secret that
 * holds another (a webhook URL, its path) goes whole. */
static void
test_redact_all (void)
{
  g_autoptr (GPtrArray) secrets = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *basic = g_base64_encode ((const guchar *) "me@x.org:TOKEN-1234abcd", 23);
  g_autofree char *text =
      g_strdup_printf ("token TOKEN-1234abcd, Basic %s, path /hooks/secret0123, url "
                       "http://h/hooks/secret0123, pw pass%%20word, short ab",
                       basic);
  g_autofree char *none = prd_redact_all ("plain", NULL);
  g_autofree char *redacted = NULL;

  g_ptr_array_add (secrets, g_strdup ("TOKEN-1234abcd"));
  g_ptr_array_add (secrets, g_strdup ("/hooks/secret0123"));
  g_ptr_array_add (secrets, g_strdup ("http://h/hooks/secret0123"));
  g_ptr_array_add (secrets, g_strdup ("pass word"));
  g_ptr_array_add (secrets, g_strdup ("ab"));
  redacted = prd_redact_all (text, secrets);
  g_test_message ("%s -> %s", text, redacted);
  g_assert_null (strstr (redacted, "TOKEN-1234abcd"));
  g_assert_null (strstr (redacted, "secret0123"));
  g_assert_null (strstr (redacted, "pass"));
  g_assert_null (strstr (redacted, basic + 16));
  g_assert_true (g_str_has_prefix (redacted, "token " PRD_REDACTED ", Basic "));
  g_assert_nonnull (strstr (redacted, ", path " PRD_REDACTED ", url " PRD_REDACTED
                                      ", pw " PRD_REDACTED ", short ab"));
  g_assert_cmpstr (none, ==, "plain");
  /* the caller's secrets are left as they were */
  g_assert_cmpuint (secrets->len, ==, 5);
  g_assert_cmpstr (g_ptr_array_index (secrets, 0), ==, "TOKEN-1234abcd");
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/prd/redact/spellings", test_redact);
  g_test_add_func ("/prd/redact/short", test_redact_short);
  g_test_add_func ("/prd/redact/all", test_redact_all);

  return g_test_run ();
}
