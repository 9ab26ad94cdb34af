/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The Socket.IO codec, the binary reassembly decoder and the rate limiter.
 * The codec runs against a corpus: every file in data/sio/valid must decode
 * to its .expected description and re-encode to the same bytes; every file
 * in data/sio/invalid must be refused with PRD_ERROR_INVALID_PAYLOAD; every
 * file in data/sio/unusable (JSON whose strings hold U+0000 or an unpaired
 * surrogate) must decode, marked unusable, to its .expected description:
 * the frame only (an event's name, U+FFFD for those escapes), so that the
 * event can be answered while nothing of its payload reaches a handler.
 */
#define G_LOG_DOMAIN "prd-test"

#include "config.h"

#include <string.h>

#include "prd-error.h"
#include "prd-json.h"
#include "prd-sio-decoder.h"
#include "prd-sio-packet.h"
#include "prd-sio-private.h"
#include "prd-sio-rate-limiter.h"

/* "<type> <nsp> <id> <n_attachments> <json or ->" */
static char *
packet_describe (PrdSioPacket *packet)
{
  JsonNode *data = prd_sio_packet_get_data (packet);
  g_autofree char *json = data != NULL ? json_to_string (data, FALSE) : NULL;

  return g_strdup_printf ("%d %s %" G_GINT64_FORMAT " %u %s", (int) packet->type, packet->nsp,
                          packet->id, packet->n_attachments, json != NULL ? json : "-");
}

static void
test_valid_file (gconstpointer user_data)
{
  const char *path = user_data;
  g_autoptr (GError) error = NULL;
  g_autofree char *contents = NULL;
  g_autofree char *expected = NULL;
  g_autofree char *expected_path = NULL;
  g_autofree char *stem = NULL;
  g_autofree char *described = NULL;
  g_autofree char *encoded = NULL;
  g_autoptr (PrdSioPacket) packet = NULL;
  gsize len;

  g_file_get_contents (path, &contents, &len, &error);
  g_assert_no_error (error);

  packet = prd_sio_packet_decode (contents, len, &error);
  g_assert_no_error (error);
  g_assert_nonnull (packet);
  g_assert_false (packet->unusable_payload);

  stem = g_strndup (path, strlen (path) - strlen (".txt"));
  expected_path = g_strconcat (stem, ".expected", NULL);
  g_file_get_contents (expected_path, &expected, NULL, &error);
  g_assert_no_error (error);
  g_strchomp (expected);
  described = packet_describe (packet);
  g_assert_cmpstr (described, ==, expected);

  encoded = prd_sio_packet_encode (packet);
  g_assert_cmpuint (strlen (encoded), ==, len);
  g_assert_cmpmem (encoded, len, contents, len);
}

static void
test_unusable_file (gconstpointer user_data)
{
  const char *path = user_data;
  g_autoptr (GError) error = NULL;
  g_autofree char *contents = NULL;
  g_autofree char *expected = NULL;
  g_autofree char *expected_path = NULL;
  g_autofree char *stem = NULL;
  g_autofree char *described = NULL;
  g_autoptr (PrdSioPacket) packet = NULL;
  gsize len;

  g_file_get_contents (path, &contents, &len, &error);
  g_assert_no_error (error);

  packet = prd_sio_packet_decode (contents, len, &error);
  g_assert_no_error (error);
  g_assert_nonnull (packet);
  g_assert_true (packet->unusable_payload);

  stem = g_strndup (path, strlen (path) - strlen (".txt"));
  expected_path = g_strconcat (stem, ".expected", NULL);
  g_file_get_contents (expected_path, &expected, NULL, &error);
  g_assert_no_error (error);
  g_strchomp (expected);
  described = packet_describe (packet);
  g_assert_cmpstr (described, ==, expected);
}

static void
test_invalid_file (gconstpointer user_data)
{
  const char *path = user_data;
  g_autoptr (GError) error = NULL;
  g_autofree char *contents = NULL;
  g_autoptr (PrdSioPacket) packet = NULL;
  gsize len;

  g_file_get_contents (path, &contents, &len, &error);
  g_assert_no_error (error);

  packet = prd_sio_packet_decode (contents, len, &error);
  g_assert_null (packet);
  g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD);
  g_assert_true (g_str_has_prefix (error->message, "Invalid Socket.IO packet: "));
  g_test_message ("%s: %s", path, error->message);
}

static int
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

static guint
add_corpus (const char *kind, GTestDataFunc func)
{
  g_autofree char *dir_path = g_test_build_filename (G_TEST_DIST, "data", "sio", kind, NULL);
  g_autoptr (GDir) dir = g_dir_open (dir_path, 0, NULL);
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *name;

  g_assert_nonnull (dir);
  while ((name = g_dir_read_name (dir)) != NULL)
    if (g_str_has_suffix (name, ".txt"))
      g_ptr_array_add (names, g_strdup (name));
  g_ptr_array_sort (names, compare_names);
  for (guint i = 0; i < names->len; i++)
    {
      const char *file = g_ptr_array_index (names, i);
      g_autofree char *stem = g_strndup (file, strlen (file) - strlen (".txt"));
      g_autofree char *test_path = g_strdup_printf ("/prd/sio-packet/%s/%s", kind, stem);

      g_test_add_data_func_full (test_path, g_build_filename (dir_path, file, NULL), func, g_free);
    }
  return names->len;
}

/* Forms socket.io-client never sends but socket.io accepts: they decode,
 * and encoding gives the canonical spelling. */
static void
test_non_canonical (void)
{
  static const struct
  {
    const char *in;
    const char *out;
  } cases[] = {
    { "0/random", "0/random," }, /* the comma may be missing at the end */
    { "1/custom", "1/custom," },
    { "0/,", "0" },                     /* explicit main namespace */
    { "2 [\"x\" , 1 ]", "2[\"x\",1]" }, /* insignificant JSON white space */
    { "2[\"x\",1.5e3]", "2[\"x\",1500.0]" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      const char *in = cases[i].in;
      g_autoptr (PrdSioPacket) packet = prd_sio_packet_decode (in, strlen (in), &error);
      g_autofree char *out = NULL;

      g_assert_no_error (error);
      out = prd_sio_packet_encode (packet);
      g_assert_cmpstr (out, ==, cases[i].out);
    }
}

/* An EVENT named by a string keeps its payload as text, with the name read
 * and the arguments after it marked; its tree is built when asked for and
 * is the one decoding used to build. Other packets have their tree. */
static void
test_event_text (void)
{
  static const struct
  {
    const char *in;
    const char *event; /* NULL: decoded as a tree */
    const char *args;
  } cases[] = {
    { "2/prds,12[\"content-update\",{\"a\":[1,\"],\"]}, 2 ]", "content-update",
      "{\"a\":[1,\"],\"]}, 2 " },
    { "2[\"x\"]", "x", "" },
    { "2[ \"x\" ]\t", "x", "" },
    { "2[\"n\\u0061me\\n\",null]", "name\n", "null" },
    { "2[\"\\ud83d\\ude00\",[]]", "\xf0\x9f\x98\x80", "[]" },
    { "2[7,1]", NULL, NULL },
    { "2[\"bad\\u0000\",1]", NULL, NULL }, /* unusable: the frame only */
    { "3/prds,1[\"x\"]", NULL, NULL },
    { "0{\"token\":\"t\"}", NULL, NULL },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      const char *in = cases[i].in;
      g_autoptr (PrdSioPacket) packet = prd_sio_packet_decode (in, strlen (in), &error);
      g_autoptr (JsonNode) tree = NULL;
      const char *json = strpbrk (in, "[{");

      g_assert_no_error (error);
      if (cases[i].event == NULL)
        {
          g_assert_null (packet->text);
          g_assert_null (packet->event);
          g_assert_null (packet->args);
          g_assert_nonnull (packet->data);
          continue;
        }
      g_assert_null (packet->data);
      g_assert_cmpstr (packet->text, ==, json);
      g_assert_cmpuint (packet->text_len, ==, strlen (json));
      g_assert_cmpstr (packet->event, ==, cases[i].event);
      g_assert_cmpmem (packet->args, packet->args_len, cases[i].args, strlen (cases[i].args));
      tree = prd_json_parse_full (json, -1, 0, PRD_JSON_PARSE_IMMUTABLE, NULL, &error);
      g_assert_no_error (error);
      g_assert_true (json_node_equal (prd_sio_packet_get_data (packet), tree));
      g_assert_true (json_node_is_immutable (packet->data));
      g_assert_true (prd_sio_packet_get_data (packet) == packet->data);
    }

  /* a reserved name is refused as before */
  {
    g_autoptr (GError) error = NULL;

    g_assert_null (prd_sio_packet_decode ("2[\"connect\"]", 12, &error));
    g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD);
    g_assert_cmpstr (error->message, ==,
                     "Invalid Socket.IO packet: event name \"connect\" is reserved");
  }
}

/* Every truncation and many byte substitutions of every valid packet:
 * decoding never crashes, fails only with INVALID_PAYLOAD, and whatever
 * it accepts encodes to something it accepts again. */
static void
check_mutant (const char *text, gsize len)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PrdSioPacket) packet = prd_sio_packet_decode (text, len, &error);
  g_autoptr (PrdSioPacket) again = NULL;
  g_autofree char *encoded = NULL;

  if (packet == NULL)
    {
      g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD);
      return;
    }
  encoded = prd_sio_packet_encode (packet);
  again = prd_sio_packet_decode (encoded, strlen (encoded), &error);
  g_assert_no_error (error);
  g_assert_nonnull (again);
}

static void
test_mutations (void)
{
  static const char substitutes[] = { '0', '9', '-',  '/', ',', '[',    ']',    '{',
                                      '}', '"', '\\', ' ', 'a', '\x80', '\xff', '\0' };
  g_autofree char *dir_path = g_test_build_filename (G_TEST_DIST, "data", "sio", "valid", NULL);
  g_autoptr (GDir) dir = g_dir_open (dir_path, 0, NULL);
  const char *name;
  guint n = 0;

  g_assert_nonnull (dir);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = NULL;
      g_autofree char *contents = NULL;
      gsize len;

      if (!g_str_has_suffix (name, ".txt"))
        continue;
      path = g_build_filename (dir_path, name, NULL);
      g_assert_true (g_file_get_contents (path, &contents, &len, NULL));
      for (gsize cut = 0; cut < len; cut++)
        {
          check_mutant (contents, cut);
          n++;
        }
      for (gsize at = 0; at < len; at++)
        for (guint k = 0; k < G_N_ELEMENTS (substitutes); k++)
          {
            g_autofree char *copy = g_memdup2 (contents, len);

            copy[at] = substitutes[k];
            check_mutant (copy, len);
            n++;
          }
    }
  g_test_message ("%u mutants", n);
}

static void
test_encode (void)
{
  g_autoptr (PrdSioPacket) packet = NULL;
  g_autoptr (JsonNode) data = json_from_string ("[\"e\",{\"_placeholder\":true,\"num\":0}]", NULL);
  g_autofree char *text = NULL;

  packet = prd_sio_packet_new (PRD_SIO_PACKET_BINARY_EVENT, "/custom", 12, json_node_copy (data));
  packet->attachments = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  g_ptr_array_add (packet->attachments, g_bytes_new_static ("\1\2\3", 3));
  text = prd_sio_packet_encode (packet);
  g_assert_cmpstr (text, ==, "51-/custom,12[\"e\",{\"_placeholder\":true,\"num\":0}]");

  g_clear_pointer (&packet, prd_sio_packet_free);
  g_clear_pointer (&text, g_free);
  packet = prd_sio_packet_new (PRD_SIO_PACKET_DISCONNECT, NULL, -1, NULL);
  g_assert_cmpstr (packet->nsp, ==, "/");
  text = prd_sio_packet_encode (packet);
  g_assert_cmpstr (text, ==, "1");
}

static void
test_long_message (void)
{
  g_autoptr (GString) text = g_string_new ("2[\"big\",\"");
  g_autoptr (GError) error = NULL;
  g_autoptr (PrdSioPacket) packet = NULL;
  g_autofree char *encoded = NULL;

  for (guint i = 0; i < 100000; i++)
    g_string_append_c (text, (char) ('a' + i % 26));
  g_string_append (text, "\"]");
  packet = prd_sio_packet_decode (text->str, text->len, &error);
  g_assert_no_error (error);
  encoded = prd_sio_packet_encode (packet);
  g_assert_cmpstr (encoded, ==, text->str);
}

static void
test_decoder_binary (void)
{
  g_autoptr (PrdSioDecoder) decoder = prd_sio_decoder_new ();
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) one = g_bytes_new_static ("\1\2\3", 3);
  g_autoptr (GBytes) two = g_bytes_new_static ("\4\5\6", 3);
  g_autoptr (PrdSioPacket) packet = NULL;
  const char *header = "452-789[\"m\",{\"_placeholder\":true,\"num\":0},"
                       "{\"_placeholder\":true,\"num\":1}]";

  /* the Engine.IO "4" is not part of the Socket.IO packet */
  header++;
  g_assert_true (prd_sio_decoder_feed_text (decoder, header, strlen (header), &packet, &error));
  g_assert_no_error (error);
  g_assert_null (packet);
  g_assert_true (prd_sio_decoder_is_awaiting_binary (decoder));

  g_assert_true (prd_sio_decoder_feed_binary (decoder, one, &packet, &error));
  g_assert_null (packet);
  g_assert_true (prd_sio_decoder_feed_binary (decoder, two, &packet, &error));
  g_assert_no_error (error);
  g_assert_nonnull (packet);
  g_assert_false (prd_sio_decoder_is_awaiting_binary (decoder));
  g_assert_cmpint (packet->type, ==, PRD_SIO_PACKET_BINARY_EVENT);
  g_assert_cmpint (packet->id, ==, 789);
  g_assert_cmpuint (packet->attachments->len, ==, 2);
  g_assert_true (g_bytes_equal (g_ptr_array_index (packet->attachments, 0), one));
  g_assert_true (g_bytes_equal (g_ptr_array_index (packet->attachments, 1), two));
  g_clear_pointer (&packet, prd_sio_packet_free);

  /* a plain packet goes straight through */
  g_assert_true (prd_sio_decoder_feed_text (decoder, "2[\"x\"]", 6, &packet, &error));
  g_assert_nonnull (packet);
  g_assert_cmpint (packet->type, ==, PRD_SIO_PACKET_EVENT);
}

static void
test_decoder_text_while_awaiting (void)
{
  g_autoptr (PrdSioDecoder) decoder = prd_sio_decoder_new ();
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) one = g_bytes_new_static ("\1", 1);
  g_autoptr (PrdSioPacket) packet = NULL;
  const char *header = "52-[\"m\",{\"_placeholder\":true,\"num\":0},"
                       "{\"_placeholder\":true,\"num\":1}]";

  g_assert_true (prd_sio_decoder_feed_text (decoder, header, strlen (header), &packet, &error));
  g_assert_true (prd_sio_decoder_feed_binary (decoder, one, &packet, &error));
  g_assert_null (packet);
  g_assert_false (prd_sio_decoder_feed_text (decoder, "2[\"x\"]", 6, &packet, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD);
  g_assert_null (packet);
  g_assert_false (prd_sio_decoder_is_awaiting_binary (decoder));
}

static void
test_decoder_unexpected_binary (void)
{
  g_autoptr (PrdSioDecoder) decoder = prd_sio_decoder_new ();
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) one = g_bytes_new_static ("\1", 1);
  PrdSioPacket *packet = NULL;

  g_assert_false (prd_sio_decoder_feed_binary (decoder, one, &packet, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD);
  g_assert_null (packet);
  g_clear_error (&error);

  /* a bad header leaves nothing pending */
  g_assert_false (prd_sio_decoder_feed_text (decoder, "50-[\"x\"]", 8, &packet, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD);
  g_assert_false (prd_sio_decoder_is_awaiting_binary (decoder));
}

/* A packet split over messages gets no more room than one message; the
 * namespace of the packet being collected is known before it is whole. */
/* Over max_values a payload is counted, never made into a tree: the
 * packet keeps its frame. */
static void
test_max_values (void)
{
  static const struct
  {
    const char *in;
    gsize n_values;
    const char *frame; /* (nullable) */
  } cases[] = {
    { "2[\"e\",1,[2,{\"a\":3}],4,5]", 9, "[\"e\"]" },
    { "2[7,{\"a\":[1,2,3,4,5,6,7]}]", 11, "[7]" },
    { "2[-1.5,{\"a\":[1,2,3,4,5,6,7]}]", 11, "[-1.5]" },
    { "51-[\"e\",{\"_placeholder\":true,\"num\":0},[1,2,3]]", 9, "[\"e\"]" },
    { "31[1,2,3,4,5,6,7,8,9]", 10, "[]" },
    { "0/a,{\"a\":[1,2,3,4,5,6,7,8]}", 10, NULL },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (PrdSioPacket) packet = NULL;
      g_autoptr (PrdSioPacket) within = NULL;

      packet = prd_sio_packet_decode_full (cases[i].in, strlen (cases[i].in), 8, &error);
      g_assert_no_error (error);
      g_assert_true (packet->too_many_values);
      g_assert_false (packet->unusable_payload);
      g_assert_cmpuint (packet->n_values, ==, cases[i].n_values);
      if (cases[i].frame == NULL)
        g_assert_null (prd_sio_packet_get_data (packet));
      else
        {
          g_autofree char *frame = prd_json_to_string (prd_sio_packet_get_data (packet));

          g_assert_cmpstr (frame, ==, cases[i].frame);
        }

      /* at the limit it is read as ever */
      within =
          prd_sio_packet_decode_full (cases[i].in, strlen (cases[i].in), cases[i].n_values, &error);
      g_assert_no_error (error);
      g_assert_false (within->too_many_values);
      g_assert_cmpuint (within->n_values, ==, cases[i].n_values);
    }

  /* what is wrong with the frame is wrong with the packet */
  {
    g_autoptr (GError) error = NULL;

    g_assert_null (prd_sio_packet_decode_full ("2[[1,2,3,4,5,6,7,8]]", 20, 8, &error));
    g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD);
    g_clear_error (&error);
    g_assert_null (prd_sio_packet_decode_full ("2{\"a\":[1,2,3,4,5,6,7,8]}", 24, 8, &error));
    g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD);
    g_clear_error (&error);
    g_assert_null (prd_sio_packet_decode_full ("1[1,2,3,4,5,6,7,8,9]", 20, 8, &error));
    g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD);
  }
}

static void
test_decoder_max_size (void)
{
  g_autoptr (PrdSioDecoder) decoder = prd_sio_decoder_new ();
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) big = g_bytes_new_take (g_malloc0 (60), 60);
  g_autoptr (PrdSioPacket) packet = NULL;
  const char *header = "52-/prds,[\"m\",{\"_placeholder\":true,\"num\":0},"
                       "{\"_placeholder\":true,\"num\":1}]";
  gsize len = strlen (header);

  g_assert_null (prd_sio_decoder_get_awaiting_nsp (decoder));
  prd_sio_decoder_set_max_size (decoder, len + 100);
  g_assert_true (prd_sio_decoder_feed_text (decoder, header, len, &packet, &error));
  g_assert_cmpstr (prd_sio_decoder_get_awaiting_nsp (decoder), ==, "/prds");
  g_assert_true (prd_sio_decoder_feed_binary (decoder, big, &packet, &error));
  g_assert_null (packet);
  g_assert_false (prd_sio_decoder_feed_binary (decoder, big, &packet, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_PAYLOAD_TOO_LARGE);
  g_assert_null (packet);
  g_assert_false (prd_sio_decoder_is_awaiting_binary (decoder));
  g_clear_error (&error);

  /* exactly at the limit */
  prd_sio_decoder_set_max_size (decoder, len + 120);
  g_assert_true (prd_sio_decoder_feed_text (decoder, header, len, &packet, &error));
  g_assert_true (prd_sio_decoder_feed_binary (decoder, big, &packet, &error));
  g_assert_true (prd_sio_decoder_feed_binary (decoder, big, &packet, &error));
  g_assert_no_error (error);
  g_assert_nonnull (packet);
}

/* A namespace is at most PRD_SIO_MAX_NSP_LENGTH bytes. */
static void
test_namespace_length (void)
{
  g_autoptr (GString) text = g_string_new ("0/");
  g_autoptr (PrdSioPacket) packet = NULL;
  g_autoptr (GError) error = NULL;

  while (text->len < 1 + PRD_SIO_MAX_NSP_LENGTH)
    g_string_append_c (text, 'n');
  packet = prd_sio_packet_decode (text->str, text->len, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (strlen (packet->nsp), ==, PRD_SIO_MAX_NSP_LENGTH);
  g_clear_pointer (&packet, prd_sio_packet_free);
  g_string_append (text, "n,");
  packet = prd_sio_packet_decode (text->str, text->len, &error);
  g_assert_null (packet);
  g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD);
}

static void
test_rate_limiter (void)
{
  g_autoptr (PrdSioRateLimiter) limiter = prd_sio_rate_limiter_new ();
  PrdSioRateInfo info;
  gint64 t0 = 1000 * G_USEC_PER_SEC;

  for (guint i = 0; i < 3; i++)
    {
      g_assert_true (prd_sio_rate_limiter_consume (limiter, "edit", 3, 10, t0 + i, &info));
      g_assert_cmpuint (info.remaining, ==, 2 - i);
      g_assert_cmpuint (info.limit, ==, 3);
    }
  g_assert_false (
      prd_sio_rate_limiter_consume (limiter, "edit", 3, 10, t0 + 4 * G_USEC_PER_SEC, &info));
  g_assert_cmpuint (info.remaining, ==, 0);
  g_assert_cmpuint (info.retry_after, ==, 6);
  g_assert_cmpint (info.reset_time_us, ==, t0 + 10 * G_USEC_PER_SEC);

  /* other classes have their own bucket */
  g_assert_true (prd_sio_rate_limiter_consume (limiter, "chat", 1, 10, t0 + 5, &info));
  g_assert_false (prd_sio_rate_limiter_consume (limiter, "chat", 1, 10, t0 + 6, &info));

  /* never a retryAfter of 0 */
  g_assert_false (
      prd_sio_rate_limiter_consume (limiter, "edit", 3, 10, t0 + 10 * G_USEC_PER_SEC - 1, &info));
  g_assert_cmpuint (info.retry_after, ==, 1);

  /* the window's end refills the bucket fully */
  g_assert_true (
      prd_sio_rate_limiter_consume (limiter, "edit", 3, 10, t0 + 10 * G_USEC_PER_SEC, &info));
  g_assert_cmpuint (info.remaining, ==, 2);
  g_assert_cmpint (info.reset_time_us, ==, t0 + 20 * G_USEC_PER_SEC);
}

/* Charging takes more than one token, never below none; the window's end
 * refills as ever. */
static void
test_rate_limiter_charge (void)
{
  g_autoptr (PrdSioRateLimiter) limiter = prd_sio_rate_limiter_new ();
  PrdSioRateInfo info;
  gint64 t0 = 1000 * G_USEC_PER_SEC;

  g_assert_true (prd_sio_rate_limiter_consume (limiter, "edit", 10, 10, t0, &info));
  prd_sio_rate_limiter_charge (limiter, "edit", 10, 10, t0 + 1, 4);
  g_assert_true (prd_sio_rate_limiter_consume (limiter, "edit", 10, 10, t0 + 2, &info));
  g_assert_cmpuint (info.remaining, ==, 4);
  prd_sio_rate_limiter_charge (limiter, "edit", 10, 10, t0 + 3, 1000);
  g_assert_false (prd_sio_rate_limiter_consume (limiter, "edit", 10, 10, t0 + 4, &info));
  g_assert_cmpint (info.reset_time_us, ==, t0 + 10 * G_USEC_PER_SEC);
  g_assert_true (
      prd_sio_rate_limiter_consume (limiter, "edit", 10, 10, t0 + 10 * G_USEC_PER_SEC, &info));
  g_assert_cmpuint (info.remaining, ==, 9);

  /* a charge to a bucket not used yet starts its window */
  prd_sio_rate_limiter_charge (limiter, "chat", 2, 10, t0, 5);
  g_assert_false (prd_sio_rate_limiter_consume (limiter, "chat", 2, 10, t0 + 1, &info));
  g_assert_cmpint (info.reset_time_us, ==, t0 + 10 * G_USEC_PER_SEC);
}

/* A random string with what an encoder must escape. */
static char *
random_text (void)
{
  static const char *const pieces[] = {
    "a",        "content-update",   "\"", "\\",          "\x01", "\x1e", "\x1f", "\n",
    "\xc3\xa9", "\xf0\x9f\x98\x80", "/",  "\xe2\x80\xa8"
  };
  GString *out = g_string_new (NULL);
  guint n = (guint) g_test_rand_int_range (0, 8);

  for (guint i = 0; i < n; i++)
    g_string_append (out, pieces[g_test_rand_int_range (0, G_N_ELEMENTS (pieces))]);
  return g_string_free (out, FALSE);
}

/* An event or ack whose arguments are JSON text already encodes to the
 * packet the tree path makes of the same arguments. */
static void
test_encode_raw (void)
{
  static const char *const nsps[] = { "/", "/prds", "/notifications" };

  for (guint i = 0; i < 2000; i++)
    {
      g_autoptr (JsonArray) args = json_array_new ();
      g_autoptr (GString) raw_args = g_string_new (NULL);
      g_autofree char *event = random_text ();
      const char *nsp = nsps[i % G_N_ELEMENTS (nsps)];
      gboolean ack = i % 4 == 3;
      gint64 id = ack ? (gint64) g_test_rand_int_range (0, G_MAXINT32) : (i % 2 ? -1 : (gint64) i);
      guint n_args = (guint) g_test_rand_int_range (0, 4);
      g_autofree char *tree = NULL;
      g_autoptr (GString) raw = NULL;

      for (guint a = 0; a < n_args; a++)
        {
          g_autofree char *text = random_text ();
          g_autoptr (JsonNode) node = NULL;
          g_autofree char *written = NULL;

          switch (g_test_rand_int_range (0, 3))
            {
              case 0:
                node = json_node_init_string (json_node_alloc (), text);
                break;
              case 1:
                node = json_node_init_int (json_node_alloc (), g_test_rand_int ());
                break;
              default:
                {
                  JsonObject *object = json_object_new ();

                  json_object_set_string_member (object, "prdId", text);
                  json_object_set_boolean_member (object, "ok", TRUE);
                  node = json_node_init_object (json_node_alloc (), object);
                  json_object_unref (object);
                }
                break;
            }
          written = prd_json_to_string (node);
          if (a > 0)
            g_string_append_c (raw_args, ',');
          g_string_append (raw_args, written);
          json_array_add_element (args, g_steal_pointer (&node));
        }
      tree = prd_sio_encode_with_args (ack ? PRD_SIO_PACKET_ACK : PRD_SIO_PACKET_EVENT, nsp, id,
                                       ack ? NULL : event, args, NULL);
      raw = prd_sio_encode_raw (ack ? PRD_SIO_PACKET_ACK : PRD_SIO_PACKET_EVENT, nsp, id,
                                ack ? NULL : event, raw_args->str, raw_args->len);
      g_assert_cmpstr (raw->str, ==, tree);
    }
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_assert_cmpuint (add_corpus ("valid", test_valid_file), >=, 30);
  g_assert_cmpuint (add_corpus ("invalid", test_invalid_file), >=, 60);
  g_assert_cmpuint (add_corpus ("unusable", test_unusable_file), >=, 10);
  g_test_add_func ("/prd/sio-packet/non-canonical", test_non_canonical);
  g_test_add_func ("/prd/sio-packet/encode", test_encode);
  g_test_add_func ("/prd/sio-packet/event-text", test_event_text);
  g_test_add_func ("/prd/sio-packet/encode-raw", test_encode_raw);
  g_test_add_func ("/prd/sio-packet/mutations", test_mutations);
  g_test_add_func ("/prd/sio-packet/long-message", test_long_message);
  g_test_add_func ("/prd/sio-packet/decoder/binary", test_decoder_binary);
  g_test_add_func ("/prd/sio-packet/decoder/text-while-awaiting", test_decoder_text_while_awaiting);
  g_test_add_func ("/prd/sio-packet/decoder/unexpected-binary", test_decoder_unexpected_binary);
  g_test_add_func ("/prd/sio-packet/decoder/max-size", test_decoder_max_size);
  g_test_add_func ("/prd/sio-packet/max-values", test_max_values);
  g_test_add_func ("/prd/sio-packet/namespace-length", test_namespace_length);
  g_test_add_func ("/prd/sio-packet/rate-limiter", test_rate_limiter);
  g_test_add_func ("/prd/sio-packet/rate-limiter-charge", test_rate_limiter_charge);

  return g_test_run ();
}
