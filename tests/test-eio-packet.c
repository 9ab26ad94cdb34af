/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The Engine.IO codec against a corpus: every file in data/eio/valid must
 * decode (to its .expected listing when there is one) and re-encode to the
 * same bytes; every file in data/eio/invalid must be refused with
 * PRD_ERROR_INVALID_PAYLOAD.
 */
#define G_LOG_DOMAIN "prd-test"

#include "config.h"

#include <string.h>

#include "prd-error.h"
#include "prd-eio-packet.h"

static char *
packet_describe (const PrdEioPacket *packet)
{
  gsize len;
  const guint8 *data = g_bytes_get_data (packet->data, &len);
  GString *out = g_string_new (NULL);

  if (packet->binary)
    {
      g_string_append (out, "b:");
      for (gsize i = 0; i < len; i++)
        g_string_append_printf (out, "%02x", data[i]);
    }
  else
    {
      g_string_append_printf (out, "%d:", (int) packet->type);
      g_string_append_len (out, (const char *) data, len);
    }
  return g_string_free (out, FALSE);
}

static void
test_valid_file (gconstpointer user_data)
{
  const char *path = user_data;
  g_autoptr (GError) error = NULL;
  g_autofree char *contents = NULL;
  g_autofree char *expected_path = NULL;
  g_autofree char *stem = NULL;
  g_autoptr (GPtrArray) packets = NULL;
  g_autoptr (GString) encoded = g_string_new (NULL);
  gsize len;

  g_file_get_contents (path, &contents, &len, &error);
  g_assert_no_error (error);

  packets = prd_eio_payload_decode (contents, len, &error);
  g_assert_no_error (error);
  g_assert_nonnull (packets);
  g_assert_cmpuint (packets->len, >, 0);

  stem = g_strndup (path, strlen (path) - strlen (".txt"));
  expected_path = g_strconcat (stem, ".expected", NULL);
  if (g_file_test (expected_path, G_FILE_TEST_EXISTS))
    {
      g_autofree char *expected = NULL;
      g_auto (GStrv) lines = NULL;

      g_file_get_contents (expected_path, &expected, NULL, &error);
      g_assert_no_error (error);
      g_strchomp (expected);
      lines = g_strsplit (expected, "\n", -1);
      g_assert_cmpuint (g_strv_length (lines), ==, packets->len);
      for (guint i = 0; i < packets->len; i++)
        {
          g_autofree char *got = packet_describe (g_ptr_array_index (packets, i));
          g_assert_cmpstr (got, ==, lines[i]);
        }
    }

  for (guint i = 0; i < packets->len; i++)
    {
      const PrdEioPacket *packet = g_ptr_array_index (packets, i);
      gsize before = encoded->len;

      prd_eio_payload_append (encoded, packet);
      g_assert_cmpuint (encoded->len - before - (before > 0 ? 1 : 0), ==,
                        prd_eio_packet_get_polling_size (packet));
    }
  g_assert_cmpmem (encoded->str, encoded->len, contents, len);
}

static void
test_invalid_file (gconstpointer user_data)
{
  const char *path = user_data;
  g_autoptr (GError) error = NULL;
  g_autofree char *contents = NULL;
  g_autoptr (GPtrArray) packets = NULL;
  gsize len;

  g_file_get_contents (path, &contents, &len, &error);
  g_assert_no_error (error);

  packets = prd_eio_payload_decode (contents, len, &error);
  g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD);
  g_assert_null (packets);
  g_assert_nonnull (error->message);
}

static void
test_text_frame (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PrdEioPacket) packet = NULL;
  g_autoptr (PrdEioPacket) bad = NULL;
  g_autoptr (GBytes) encoded = NULL;
  gsize len;
  const char *text;

  packet = prd_eio_packet_decode_text ("4hi\x1ethere", 9, &error);
  g_assert_no_error (error);
  g_assert_cmpint (packet->type, ==, PRD_EIO_PACKET_MESSAGE);
  g_assert_false (packet->binary);
  text = prd_eio_packet_get_text (packet, &len);
  g_assert_cmpmem (text, len, "hi\x1ethere", 8);

  encoded = prd_eio_packet_encode_text (packet);
  g_assert_cmpmem (g_bytes_get_data (encoded, NULL), g_bytes_get_size (encoded), "4hi\x1ethere", 9);

  /* "b" is only a polling convention: a text frame starting with it is invalid. */
  bad = prd_eio_packet_decode_text ("bAQID", 5, &error);
  g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD);
  g_assert_null (bad);
  g_clear_error (&error);

  bad = prd_eio_packet_decode_text ("", 0, &error);
  g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD);
  g_assert_null (bad);
}

/* A broadcast's packet: framed once, the frame shared by every copy. */
static void
test_shared_message (void)
{
  g_autoptr (PrdEioPacket) message = prd_eio_packet_new_message ("2/prds,[\"x\"]", -1);
  g_autoptr (PrdEioPacket) copy = NULL;
  g_autoptr (PrdEioPacket) plain =
      prd_eio_packet_new (PRD_EIO_PACKET_MESSAGE, "2/prds,[\"x\"]", -1);
  g_autoptr (GBytes) frame = NULL;
  g_autoptr (GBytes) plain_frame = NULL;
  g_autoptr (GString) payload = g_string_new (NULL);
  g_autoptr (GString) plain_payload = g_string_new (NULL);
  PrdEioPacket *bad;
  const char *text;
  gsize len;

  g_assert_nonnull (message);
  g_assert_cmpint (message->type, ==, PRD_EIO_PACKET_MESSAGE);
  g_assert_false (message->binary);
  text = prd_eio_packet_get_text (message, &len);
  g_assert_cmpmem (text, len, "2/prds,[\"x\"]", 12);

  /* The frame is the same bytes for the packet and each copy. */
  copy = prd_eio_packet_copy (message);
  frame = prd_eio_packet_encode_text (copy);
  g_assert_true (frame == message->frame);
  g_assert_true (prd_eio_packet_get_text (copy, NULL) == text);
  plain_frame = prd_eio_packet_encode_text (plain);
  g_assert_true (g_bytes_equal (frame, plain_frame));

  /* Over polling it is a record like any other. */
  prd_eio_payload_append (payload, copy);
  prd_eio_payload_append (plain_payload, plain);
  g_assert_cmpstr (payload->str, ==, plain_payload->str);
  g_assert_cmpuint (prd_eio_packet_get_polling_size (copy), ==,
                    prd_eio_packet_get_polling_size (plain));

  /* What would corrupt the stream is a caller bug, refused. */
  g_test_expect_message ("prd-eio", G_LOG_LEVEL_CRITICAL, "*g_utf8_validate_len*");
  bad = prd_eio_packet_new_message ("\xff", 1);
  g_test_assert_expected_messages ();
  g_assert_null (bad);
  g_test_expect_message ("prd-eio", G_LOG_LEVEL_CRITICAL, "*memchr*");
  bad = prd_eio_packet_new_message ("a\x1e"
                                    "b",
                                    3);
  g_test_assert_expected_messages ();
  g_assert_null (bad);
}

static void
test_binary_encode (void)
{
  static const guint8 bytes[] = { 1, 2, 3, 4 };
  g_autoptr (GBytes) data = g_bytes_new_static (bytes, sizeof bytes);
  g_autoptr (PrdEioPacket) packet = prd_eio_packet_new_binary (data);
  g_autoptr (PrdEioPacket) text = prd_eio_packet_new (PRD_EIO_PACKET_MESSAGE, "hello", -1);
  g_autoptr (GString) payload = g_string_new (NULL);

  prd_eio_payload_append (payload, text);
  prd_eio_payload_append (payload, packet);
  g_assert_cmpstr (payload->str, ==,
                   "4hello\x1e"
                   "bAQIDBA==");
}

static int
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

static void
add_corpus (const char *kind, GTestDataFunc func)
{
  g_autofree char *dir_path = g_test_build_filename (G_TEST_DIST, "data", "eio", kind, NULL);
  g_autoptr (GDir) dir = NULL;
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GError) error = NULL;
  const char *name;

  dir = g_dir_open (dir_path, 0, &error);
  g_assert_no_error (error);
  while ((name = g_dir_read_name (dir)) != NULL)
    if (g_str_has_suffix (name, ".txt"))
      g_ptr_array_add (names, g_strdup (name));
  g_assert_cmpuint (names->len, >, 0);
  g_ptr_array_sort (names, compare_names);

  for (guint i = 0; i < names->len; i++)
    {
      const char *file = g_ptr_array_index (names, i);
      g_autofree char *base = g_strndup (file, strlen (file) - strlen (".txt"));
      g_autofree char *test_path = g_strdup_printf ("/prd/eio-packet/%s/%s", kind, base);

      g_test_add_data_func_full (test_path, g_build_filename (dir_path, file, NULL), func, g_free);
    }
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  add_corpus ("valid", test_valid_file);
  add_corpus ("invalid", test_invalid_file);
  g_test_add_func ("/prd/eio-packet/text-frame", test_text_frame);
  g_test_add_func ("/prd/eio-packet/binary-encode", test_binary_encode);
  g_test_add_func ("/prd/eio-packet/shared-message", test_shared_message);

  return g_test_run ();
}
