/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The server's RFC 6455 frame parser (src/eio/prd-eio-ws-frame.h) against
 * frames a small client-side builder makes: messages of every length form,
 * fragments with control frames between them, the same stream fed whole,
 * byte by byte and in random pieces, Close, every protocol error with its
 * close code, the message limit, the header of server frames and is_busy.
 */
#define G_LOG_DOMAIN "prd-test"

#include "config.h"

#include <string.h>

#include "prd-eio-ws-frame.h"
#include "prd-test-text.h"

#define LIMIT (1 << 20)

#define FIN  0x80
#define RSV1 0x40
#define RSV2 0x20
#define RSV3 0x10

/* The frame builder: what a client sends. */

/* Appends a client frame to @wire: @b0 is its first byte (FIN, RSV1-3 and
 * the opcode), the payload is masked with @mask_key (its most significant
 * byte masks the first payload byte) unless @masked is FALSE, and the
 * length is written in @len_bits bits (7, 16 or 64; 0: the fewest that hold
 * it). With @payload NULL only the header is written, announcing @len. */
static void
append_frame_full (GByteArray *wire,
                   guint8 b0,
                   gboolean masked,
                   guint32 mask_key,
                   guint len_bits,
                   const void *payload,
                   guint64 len)
{
  const guint8 mask[4] = { mask_key >> 24, mask_key >> 16, mask_key >> 8, mask_key };
  guint8 mask_bit = masked ? 0x80 : 0;
  guint8 header[14];
  guint n = 0;

  if (len_bits == 0)
    len_bits = len < 126 ? 7 : len < 65536 ? 16 : 64;
  header[n++] = b0;
  if (len_bits == 7)
    {
      g_assert_cmpuint (len, <, 126);
      header[n++] = mask_bit | (guint8) len;
    }
  else if (len_bits == 16)
    {
      g_assert_cmpuint (len, <, 65536);
      header[n++] = mask_bit | 126;
      header[n++] = (guint8) (len >> 8);
      header[n++] = (guint8) len;
    }
  else
    {
      g_assert_cmpuint (len_bits, ==, 64);
      header[n++] = mask_bit | 127;
      for (guint i = 0; i < 8; i++)
        header[n++] = (guint8) (len >> (56 - 8 * i));
    }
  if (masked)
    {
      memcpy (header + n, mask, 4);
      n += 4;
    }
  g_byte_array_append (wire, header, n);

  if (payload != NULL)
    {
      guint at = wire->len;

      g_byte_array_append (wire, payload, (guint) len);
      if (masked)
        for (guint64 i = 0; i < len; i++)
          wire->data[at + i] ^= mask[i & 3];
    }
}

static void
append_frame (
    GByteArray *wire, gboolean fin, guint8 opcode, guint32 mask_key, const void *payload, gsize len)
{
  append_frame_full (wire, (fin ? FIN : 0) | opcode, TRUE, mask_key, 0, payload, len);
}

static void
append_text (GByteArray *wire, gboolean fin, guint8 opcode, guint32 mask_key, const char *text)
{
  append_frame (wire, fin, opcode, mask_key, text, strlen (text));
}

/* A Close frame's payload: @code (none when 0) and @reason. */
static GByteArray *
close_payload (gushort code, const char *reason, gsize reason_len)
{
  GByteArray *payload = g_byte_array_new ();

  if (code != 0)
    {
      const guint8 be[2] = { code >> 8, code & 0xff };

      g_byte_array_append (payload, be, 2);
    }
  g_byte_array_append (payload, (const guint8 *) reason, (guint) reason_len);
  return payload;
}

static void
append_close (GByteArray *wire, guint32 mask_key, gushort code, const char *reason)
{
  g_autoptr (GByteArray) payload = close_payload (code, reason, strlen (reason));

  append_frame (wire, TRUE, PRD_EIO_WS_OPCODE_CLOSE, mask_key, payload->data, payload->len);
}

/* Events, described as text so that lists of them compare with useful
 * messages. */

static char *
describe (const char *what, const guint8 *data, gsize len)
{
  GString *out = g_string_new (what);

  g_string_append_c (out, ':');
  if (len <= 40)
    {
      for (gsize i = 0; i < len; i++)
        g_string_append_printf (out, "%02x", data[i]);
    }
  else
    {
      g_autofree char *sum = g_compute_checksum_for_data (G_CHECKSUM_SHA256, data, len);

      g_string_append_printf (out, "%" G_GSIZE_FORMAT " bytes, sha256 %s", len, sum);
    }
  return g_string_free (out, FALSE);
}

static char *
describe_close (gushort code, const guint8 *payload, gsize len)
{
  g_autofree char *what = g_strdup_printf ("close %u", code);

  return describe (what, payload, len);
}

static char *
event_describe (const PrdEioWsEvent *event)
{
  const guint8 *data;
  gsize len;

  switch (event->kind)
    {
      case PRD_EIO_WS_EVENT_NONE:
        return g_strdup ("none");
      case PRD_EIO_WS_EVENT_MESSAGE:
        data = g_bytes_get_data (event->message, &len);
        return describe (event->type == PRD_EIO_WS_OPCODE_TEXT ? "text" : "binary", data, len);
      case PRD_EIO_WS_EVENT_PING:
        return describe ("ping", event->payload, event->payload_len);
      case PRD_EIO_WS_EVENT_PONG:
        return describe ("pong", event->payload, event->payload_len);
      case PRD_EIO_WS_EVENT_CLOSE:
        return describe_close (event->close_code, event->payload, event->payload_len);
      case PRD_EIO_WS_EVENT_ERROR:
        return g_strdup_printf ("error %u", event->close_code);
      default:
        g_assert_not_reached ();
    }
}

/* One feed, with the checks every feed must pass: it consumes at most what
 * it is given, all of it when there is no event, at least one byte for an
 * event; only a message carries bytes, only an error a reason, and after a
 * message nothing is left half read. Returns what it consumed and the
 * description of its event. */
static gsize
feed_checked (PrdEioWsParser *parser, const guint8 *data, gsize len, char **description)
{
  PrdEioWsEvent event;
  gsize n = prd_eio_ws_parser_feed (parser, data, len, &event);

  g_assert_cmpuint (n, <=, len);
  if (event.kind == PRD_EIO_WS_EVENT_NONE)
    g_assert_cmpuint (n, ==, len);
  else
    g_assert_cmpuint (n, >, 0);
  if (event.kind == PRD_EIO_WS_EVENT_MESSAGE)
    {
      g_assert_nonnull (event.message);
      g_assert_true (event.type == PRD_EIO_WS_OPCODE_TEXT ||
                     event.type == PRD_EIO_WS_OPCODE_BINARY);
      g_assert_false (prd_eio_ws_parser_is_busy (parser));
    }
  else
    g_assert_null (event.message);
  if (event.kind == PRD_EIO_WS_EVENT_ERROR)
    g_assert_nonnull (event.error);
  else
    g_assert_null (event.error);
  *description = event_describe (&event);
  g_clear_pointer (&event.message, g_bytes_unref);
  return n;
}

/* Feeds @wire to @parser in pieces (all at once when @max_piece is 0, else
 * pieces of 1 to @max_piece bytes drawn from @rand) and returns the
 * descriptions of the events, in order. */
static GPtrArray *
parse_events (PrdEioWsParser *parser, const guint8 *wire, gsize len, GRand *rand, gsize max_piece)
{
  GPtrArray *events = g_ptr_array_new_with_free_func (g_free);
  gsize at = 0;

  while (at < len)
    {
      gsize piece = len - at;

      if (max_piece == 1)
        piece = 1;
      else if (max_piece > 1)
        piece = MIN (piece, (gsize) g_rand_int_range (rand, 1, (gint32) max_piece + 1));
      for (gsize done = 0; done < piece;)
        {
          char *description;

          done += feed_checked (parser, wire + at + done, piece - done, &description);
          if (g_str_equal (description, "none"))
            g_free (description);
          else
            g_ptr_array_add (events, description);
        }
      at += piece;
    }
  return events;
}

static void
assert_same_events (GPtrArray *got, GPtrArray *expected)
{
  for (guint i = 0; i < MIN (got->len, expected->len); i++)
    g_assert_cmpstr (got->pdata[i], ==, expected->pdata[i]);
  g_assert_cmpuint (got->len, ==, expected->len);
}

/* The events expected, as NULL-terminated descriptions. */
static void
assert_events (GPtrArray *got, ...)
{
  g_autoptr (GPtrArray) expected = g_ptr_array_new_with_free_func (g_free);
  va_list args;
  char *description;

  va_start (args, got);
  while ((description = va_arg (args, char *)) != NULL)
    g_ptr_array_add (expected, description);
  va_end (args);
  assert_same_events (got, expected);
}

typedef struct
{
  PrdEioWsParser parser;
  GByteArray *wire; /* what the client sends */
} Fixture;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  prd_eio_ws_parser_init (&f->parser, LIMIT);
  f->wire = g_byte_array_new ();
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  prd_eio_ws_parser_clear (&f->parser);
  g_byte_array_unref (f->wire);
}

/* A new parser with @limit, and nothing on the wire. */
static void
fixture_reset (Fixture *f, guint64 limit)
{
  prd_eio_ws_parser_clear (&f->parser);
  prd_eio_ws_parser_init (&f->parser, limit);
  g_byte_array_set_size (f->wire, 0);
}

/* The whole wire fed at once. */
static GPtrArray *
parse_wire (Fixture *f)
{
  return parse_events (&f->parser, f->wire->data, f->wire->len, NULL, 0);
}

static const guint32 mask_keys[] = { 0x00000000, 0x12345678, 0xffffffff, 0x80c3017e };

static void
test_single_message (Fixture *f, gconstpointer data)
{
  static const gsize lengths[] = { 0, 1, 125, 126, 65535, 65536, 100000 };
  static const guint8 types[] = { PRD_EIO_WS_OPCODE_TEXT, PRD_EIO_WS_OPCODE_BINARY };
  g_autoptr (GRand) rand = g_rand_new_with_seed (6455);

  for (guint t = 0; t < G_N_ELEMENTS (types); t++)
    for (guint l = 0; l < G_N_ELEMENTS (lengths); l++)
      {
        gsize len = lengths[l];
        gsize header_len = (len < 126 ? 2 : len < 65536 ? 4 : 10) + 4;
        g_autofree guint8 *payload = g_malloc (MAX (len, 1));

        for (gsize i = 0; i < len; i++)
          payload[i] = types[t] == PRD_EIO_WS_OPCODE_TEXT ? (guint8) (' ' + i % 95)
                                                          : (guint8) g_rand_int (rand);
        for (guint m = 0; m < G_N_ELEMENTS (mask_keys); m++)
          {
            PrdEioWsEvent event;
            gsize n, got_len;
            const guint8 *got;

            fixture_reset (f, LIMIT);
            append_frame (f->wire, TRUE, types[t], mask_keys[m], payload, len);
            g_assert_cmpuint (f->wire->len, ==, header_len + len);
            if (len > 0)
              g_assert_cmpuint (f->wire->data[header_len], ==, payload[0] ^ (mask_keys[m] >> 24));

            n = prd_eio_ws_parser_feed (&f->parser, f->wire->data, f->wire->len, &event);
            g_assert_cmpuint (n, ==, f->wire->len);
            g_assert_cmpint (event.kind, ==, PRD_EIO_WS_EVENT_MESSAGE);
            g_assert_cmpint (event.type, ==, types[t]);
            g_assert_nonnull (event.message);
            got = g_bytes_get_data (event.message, &got_len);
            g_assert_cmpmem (got, got_len, payload, len);
            g_assert_false (prd_eio_ws_parser_is_busy (&f->parser));
            g_bytes_unref (event.message);
          }
      }
}

/* RFC 6455 asks a sender for the shortest length form; the parser reads
 * the longer ones too. */
static void
test_length_forms (Fixture *f, gconstpointer data)
{
  g_autoptr (GPtrArray) events = NULL;
  g_autofree guint8 *big = g_malloc0 (300);

  append_frame_full (f->wire, FIN | PRD_EIO_WS_OPCODE_TEXT, TRUE, 0x01020304, 16, "hello", 5);
  append_frame_full (f->wire, FIN | PRD_EIO_WS_OPCODE_BINARY, TRUE, 0xa0b0c0d0, 64, "\x01\x02", 2);
  append_frame_full (f->wire, FIN | PRD_EIO_WS_OPCODE_BINARY, TRUE, 0xdeadbeef, 64, big, 300);
  append_frame_full (f->wire, FIN | PRD_EIO_WS_OPCODE_TEXT, TRUE, 0, 16, "", 0);
  append_frame_full (f->wire, FIN | PRD_EIO_WS_OPCODE_PING, TRUE, 0x11111111, 7, "p", 1);
  events = parse_wire (f);
  assert_events (events, describe ("text", (const guint8 *) "hello", 5),
                 describe ("binary", (const guint8 *) "\x01\x02", 2), describe ("binary", big, 300),
                 describe ("text", NULL, 0), describe ("ping", (const guint8 *) "p", 1), NULL);
}

static void
test_ping_pong (Fixture *f, gconstpointer data)
{
  static const gsize lengths[] = { 0, 1, 3, 4, 5, 8, 9, 125 };
  guint8 payload[125];

  for (guint i = 0; i < sizeof payload; i++)
    payload[i] = (guint8) (i * 7 + 3);
  for (guint l = 0; l < G_N_ELEMENTS (lengths); l++)
    for (guint m = 0; m < G_N_ELEMENTS (mask_keys); m++)
      for (guint8 opcode = PRD_EIO_WS_OPCODE_PING; opcode <= PRD_EIO_WS_OPCODE_PONG; opcode++)
        {
          PrdEioWsEvent event;
          gsize n;

          fixture_reset (f, LIMIT);
          append_frame (f->wire, TRUE, opcode, mask_keys[m], payload, lengths[l]);
          n = prd_eio_ws_parser_feed (&f->parser, f->wire->data, f->wire->len, &event);
          g_assert_cmpuint (n, ==, f->wire->len);
          g_assert_cmpint (event.kind, ==,
                           opcode == PRD_EIO_WS_OPCODE_PING ? PRD_EIO_WS_EVENT_PING
                                                            : PRD_EIO_WS_EVENT_PONG);
          g_assert_null (event.message);
          g_assert_cmpmem (event.payload, event.payload_len, payload, lengths[l]);
          g_assert_false (prd_eio_ws_parser_is_busy (&f->parser));
        }
}

/* A text message in two fragments split at every byte (inside multi-byte
 * characters too) with a ping between them, then one in five fragments,
 * empty ones among them, with pings and pongs between. */
static void
test_fragmented (Fixture *f, gconstpointer data)
{
  const char *text = "h\xc3\xa9llo, w\xc3\xb6rld \xe2\x82\xac \xf0\x9d\x84\x9e!";
  gsize len = strlen (text);
  static const guint8 blob[] = { 0, 1, 2, 0xff, 0xfe, 0x80, 0x7f, 9 };

  g_assert_cmpuint (len, ==, 24);
  for (gsize split = 0; split <= len; split++)
    {
      g_autoptr (GPtrArray) events = NULL;

      fixture_reset (f, LIMIT);
      append_frame (f->wire, FALSE, PRD_EIO_WS_OPCODE_TEXT, 0x0badf00d, text, split);
      append_text (f->wire, TRUE, PRD_EIO_WS_OPCODE_PING, 0x31415926, "ping");
      append_frame (f->wire, TRUE, PRD_EIO_WS_OPCODE_CONTINUATION, 0x27182818, text + split,
                    len - split);
      events = parse_wire (f);
      assert_events (events, describe ("ping", (const guint8 *) "ping", 4),
                     describe ("text", (const guint8 *) text, len), NULL);
    }

  {
    g_autoptr (GPtrArray) events = NULL;

    fixture_reset (f, LIMIT);
    append_frame (f->wire, FALSE, PRD_EIO_WS_OPCODE_TEXT, 0x01010101, "", 0);
    append_frame (f->wire, TRUE, PRD_EIO_WS_OPCODE_PING, 0x02020202, "", 0);
    append_frame (f->wire, FALSE, PRD_EIO_WS_OPCODE_CONTINUATION, 0x03030303, text, 2);
    append_text (f->wire, TRUE, PRD_EIO_WS_OPCODE_PONG, 0x04040404, "pong");
    append_text (f->wire, TRUE, PRD_EIO_WS_OPCODE_PING, 0x05050505, "again");
    append_frame (f->wire, FALSE, PRD_EIO_WS_OPCODE_CONTINUATION, 0x06060606, text + 2, 20);
    append_frame (f->wire, FALSE, PRD_EIO_WS_OPCODE_CONTINUATION, 0x07070707, text + 22, 2);
    append_frame (f->wire, TRUE, PRD_EIO_WS_OPCODE_CONTINUATION, 0x08080808, "", 0);
    /* Then a binary message in three fragments, and one whole. */
    append_frame (f->wire, FALSE, PRD_EIO_WS_OPCODE_BINARY, 0x090a0b0c, blob, 3);
    append_frame (f->wire, FALSE, PRD_EIO_WS_OPCODE_CONTINUATION, 0, blob + 3, 4);
    append_text (f->wire, TRUE, PRD_EIO_WS_OPCODE_PONG, 0xffffffff, "");
    append_frame (f->wire, TRUE, PRD_EIO_WS_OPCODE_CONTINUATION, 0x10203040, blob + 7, 1);
    append_text (f->wire, TRUE, PRD_EIO_WS_OPCODE_TEXT, 0x50607080, "whole");
    events = parse_wire (f);
    assert_events (events, describe ("ping", NULL, 0),
                   describe ("pong", (const guint8 *) "pong", 4),
                   describe ("ping", (const guint8 *) "again", 5),
                   describe ("text", (const guint8 *) text, len), describe ("pong", NULL, 0),
                   describe ("binary", blob, sizeof blob),
                   describe ("text", (const guint8 *) "whole", 5), NULL);
  }
}

/* A random payload of the kind the stream needs, about @len bytes long. */
static GByteArray *
random_payload (GRand *rand, gboolean text, gsize len)
{
  /* Never NULL data, even when empty: the stream adds offsets to it. */
  GByteArray *payload = g_byte_array_sized_new ((guint) len + 1);

  if (len == 0)
    return payload;
  if (text)
    {
      g_autofree char *s = prd_test_random_text (rand, (guint) MAX (len / 2, 1));

      g_byte_array_append (payload, (const guint8 *) s, (guint) strlen (s));
    }
  else
    {
      g_byte_array_set_size (payload, (guint) len);
      for (gsize i = 0; i < len; i++)
        payload->data[i] = (guint8) g_rand_int (rand);
    }
  return payload;
}

static void
append_random_control (GRand *rand, GByteArray *wire, GPtrArray *expected)
{
  gboolean ping = g_rand_boolean (rand);
  g_autoptr (GByteArray) payload = random_payload (rand, FALSE, g_rand_int_range (rand, 0, 126));

  append_frame (wire, TRUE, ping ? PRD_EIO_WS_OPCODE_PING : PRD_EIO_WS_OPCODE_PONG,
                g_rand_int (rand), payload->data, payload->len);
  g_ptr_array_add (expected, describe (ping ? "ping" : "pong", payload->data, payload->len));
}

static int
compare_gsize (gconstpointer a, gconstpointer b)
{
  gsize x = *(const gsize *) a, y = *(const gsize *) b;

  return x < y ? -1 : x > y;
}

/* @n_messages random messages (text and binary, whole or in up to five
 * fragments split anywhere, with pings and pongs between fragments and
 * between messages; mostly short, now and then over 64 KiB), then a Close
 * and bytes after it; @expected gets what the parser must report. */
static void
append_random_stream (GRand *rand, GByteArray *wire, GPtrArray *expected, guint n_messages)
{
  g_autoptr (GByteArray) close = close_payload (1000, "done", 4);

  for (guint i = 0; i < n_messages; i++)
    {
      gboolean text = g_rand_boolean (rand);
      gsize len = g_rand_int_range (rand, 0, 25) == 0 ? g_rand_int_range (rand, 126, 70000)
                                                      : g_rand_int_range (rand, 0, 300);
      g_autoptr (GByteArray) payload = random_payload (rand, text, len);
      guint n_frags = g_rand_int_range (rand, 1, 6);
      gsize splits[6];

      if (g_rand_int_range (rand, 0, 5) == 0)
        append_random_control (rand, wire, expected);

      splits[0] = 0;
      for (guint k = 1; k < n_frags; k++)
        splits[k] = g_rand_int_range (rand, 0, (gint32) payload->len + 1);
      qsort (splits + 1, n_frags - 1, sizeof (gsize), compare_gsize);
      splits[n_frags] = payload->len;
      for (guint k = 0; k < n_frags; k++)
        {
          guint8 opcode = k == 0 ? (text ? PRD_EIO_WS_OPCODE_TEXT : PRD_EIO_WS_OPCODE_BINARY)
                                 : PRD_EIO_WS_OPCODE_CONTINUATION;

          append_frame (wire, k == n_frags - 1, opcode, g_rand_int (rand),
                        payload->data + splits[k], splits[k + 1] - splits[k]);
          if (k < n_frags - 1 && g_rand_int_range (rand, 0, 3) == 0)
            append_random_control (rand, wire, expected);
        }
      g_ptr_array_add (expected, describe (text ? "text" : "binary", payload->data, payload->len));
    }

  append_close (wire, g_rand_int (rand), 1000, "done");
  g_ptr_array_add (expected, describe_close (1000, close->data, close->len));
  /* Ignored: a message, and bytes that are no frame. */
  append_text (wire, TRUE, PRD_EIO_WS_OPCODE_TEXT, 0x12345678, "after the close");
  for (guint i = 0; i < 100; i++)
    {
      guint8 b = (guint8) g_rand_int (rand);

      g_byte_array_append (wire, &b, 1);
    }
}

/* The same stream of several hundred messages fed whole, byte by byte and
 * in random pieces gives the same events, the ones it was made of. */
static void
test_pieces (Fixture *f, gconstpointer data)
{
  static const gsize max_pieces[] = { 0, 1, 2, 7, 130, 1000, 100000 };
  g_autoptr (GRand) rand = g_rand_new_with_seed (20110);
  g_autoptr (GRand) pieces = g_rand_new_with_seed (1455);
  g_autoptr (GPtrArray) expected = g_ptr_array_new_with_free_func (g_free);

  append_random_stream (rand, f->wire, expected, 400);
  g_assert_cmpuint (expected->len, >, 400);
  for (guint p = 0; p < G_N_ELEMENTS (max_pieces); p++)
    {
      g_autoptr (GPtrArray) events = NULL;

      prd_eio_ws_parser_clear (&f->parser);
      prd_eio_ws_parser_init (&f->parser, LIMIT);
      events = parse_events (&f->parser, f->wire->data, f->wire->len, pieces, max_pieces[p]);
      assert_same_events (events, expected);
    }
}

/* Several frames in one buffer: each feed stops at the end of the frame
 * that completes an event. */
static void
test_several_frames (Fixture *f, gconstpointer data)
{
  g_autoptr (GByteArray) close = close_payload (1001, "", 0);
  static const guint8 three[] = { 1, 2, 3 };
  gsize ends[7];
  char *expected[7];
  guint n_ends = 0;
  gsize at = 0;

  append_text (f->wire, TRUE, PRD_EIO_WS_OPCODE_TEXT, 0x11223344, "a");
  ends[n_ends] = f->wire->len;
  expected[n_ends++] = describe ("text", (const guint8 *) "a", 1);
  append_text (f->wire, TRUE, PRD_EIO_WS_OPCODE_PING, 0x55667788, "p");
  ends[n_ends] = f->wire->len;
  expected[n_ends++] = describe ("ping", (const guint8 *) "p", 1);
  append_frame (f->wire, TRUE, PRD_EIO_WS_OPCODE_BINARY, 0x99aabbcc, three, 3);
  ends[n_ends] = f->wire->len;
  expected[n_ends++] = describe ("binary", three, 3);
  /* A fragment is no event: the feed goes on to the end of the message. */
  append_text (f->wire, FALSE, PRD_EIO_WS_OPCODE_TEXT, 0xddeeff00, "ab");
  append_text (f->wire, TRUE, PRD_EIO_WS_OPCODE_CONTINUATION, 0x01020304, "c");
  ends[n_ends] = f->wire->len;
  expected[n_ends++] = describe ("text", (const guint8 *) "abc", 3);
  append_text (f->wire, TRUE, PRD_EIO_WS_OPCODE_PONG, 0x05060708, "");
  ends[n_ends] = f->wire->len;
  expected[n_ends++] = describe ("pong", NULL, 0);
  append_close (f->wire, 0x090a0b0c, 1001, "");
  ends[n_ends] = f->wire->len;
  expected[n_ends++] = describe_close (1001, close->data, close->len);
  append_text (f->wire, TRUE, PRD_EIO_WS_OPCODE_TEXT, 0x0d0e0f10, "x");
  ends[n_ends] = f->wire->len;
  expected[n_ends++] = g_strdup ("none");

  g_assert_cmpuint (ends[0], ==, 7);
  g_assert_cmpuint (ends[3], ==, 7 + 7 + 9 + 8 + 7);
  for (guint i = 0; i < n_ends; i++)
    {
      g_autofree char *description = NULL;
      gsize n = feed_checked (&f->parser, f->wire->data + at, f->wire->len - at, &description);

      g_assert_cmpuint (n, ==, ends[i] - at);
      g_assert_cmpstr (description, ==, expected[i]);
      at += n;
      g_free (expected[i]);
    }
  g_assert_cmpuint (at, ==, f->wire->len);
}

static void
expect_close (Fixture *f, gushort code, const guint8 *payload, gsize payload_len)
{
  PrdEioWsEvent event;
  gsize n;

  n = prd_eio_ws_parser_feed (&f->parser, f->wire->data, f->wire->len, &event);
  g_assert_cmpuint (n, ==, f->wire->len);
  g_assert_cmpint (event.kind, ==, PRD_EIO_WS_EVENT_CLOSE);
  g_assert_cmpuint (event.close_code, ==, code);
  g_assert_cmpmem (event.payload, event.payload_len, payload, payload_len);
  g_assert_null (event.message);
  g_assert_null (event.error);
}

/* After a Close (or an error) whatever follows is consumed and ignored. */
static void
assert_ignores_more (Fixture *f)
{
  g_autoptr (GByteArray) more = g_byte_array_new ();
  static const guint8 garbage[] = { 0x7f, 0x00, 0xff, 0xff };
  PrdEioWsEvent event;
  gsize n;

  append_text (more, TRUE, PRD_EIO_WS_OPCODE_TEXT, 0x12121212, "ignored");
  append_close (more, 0, 1000, "");
  g_byte_array_append (more, garbage, sizeof garbage);
  n = prd_eio_ws_parser_feed (&f->parser, more->data, more->len, &event);
  g_assert_cmpuint (n, ==, more->len);
  g_assert_cmpint (event.kind, ==, PRD_EIO_WS_EVENT_NONE);
  g_assert_null (event.message);
  n = prd_eio_ws_parser_feed (&f->parser, garbage, 1, &event);
  g_assert_cmpuint (n, ==, 1);
  g_assert_cmpint (event.kind, ==, PRD_EIO_WS_EVENT_NONE);
}

static void
test_close (Fixture *f, gconstpointer data)
{
  const char *reason = "au revoir \xe2\x9c\x93";
  g_autoptr (GByteArray) with_reason = close_payload (4000, reason, strlen (reason));
  static const guint8 code_only[] = { 0x03, 0xe8 };
  char longest[124];

  /* No payload: no code. */
  append_close (f->wire, 0x01234567, 0, "");
  g_assert_cmpuint (f->wire->len, ==, 6);
  expect_close (f, 0, NULL, 0);
  assert_ignores_more (f);

  fixture_reset (f, LIMIT);
  append_close (f->wire, 0x89abcdef, 1000, "");
  expect_close (f, 1000, code_only, 2);
  assert_ignores_more (f);

  fixture_reset (f, LIMIT);
  append_close (f->wire, 0xfedcba98, 4000, reason);
  expect_close (f, 4000, with_reason->data, with_reason->len);
  assert_ignores_more (f);

  /* The longest: a code and a reason of 123 bytes. */
  {
    g_autoptr (GByteArray) payload = NULL;

    memset (longest, 'r', 123);
    longest[123] = '\0';
    payload = close_payload (1001, longest, 123);
    g_assert_cmpuint (payload->len, ==, 125);
    fixture_reset (f, LIMIT);
    append_close (f->wire, 0x76543210, 1001, longest);
    expect_close (f, 1001, payload->data, payload->len);
  }

  /* In the middle of a fragmented message, and followed by more in the
   * same buffer: the feed stops after the Close, the rest is ignored. */
  {
    g_autoptr (GPtrArray) events = NULL;
    PrdEioWsEvent event;
    gsize close_end, n;

    fixture_reset (f, LIMIT);
    append_text (f->wire, FALSE, PRD_EIO_WS_OPCODE_TEXT, 0x0f0f0f0f, "half");
    append_close (f->wire, 0xf0f0f0f0, 1000, "");
    close_end = f->wire->len;
    append_text (f->wire, TRUE, PRD_EIO_WS_OPCODE_CONTINUATION, 0x0f0f0f0f, " and the rest");
    n = prd_eio_ws_parser_feed (&f->parser, f->wire->data, f->wire->len, &event);
    g_assert_cmpuint (n, ==, close_end);
    g_assert_cmpint (event.kind, ==, PRD_EIO_WS_EVENT_CLOSE);
    g_assert_cmpuint (event.close_code, ==, 1000);
    events = parse_events (&f->parser, f->wire->data + n, f->wire->len - n, NULL, 0);
    g_assert_cmpuint (events->len, ==, 0);
    assert_ignores_more (f);
  }
}

static void
test_close_codes (Fixture *f, gconstpointer data)
{
  static const gushort valid[] = { 1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010,
                                   1011, 1012, 1013, 1014, 3000, 4000, 4999 };
  static const gushort invalid[] = { 0,    1,    999,  1004, 1005, 1006, 1015,
                                     1016, 2000, 2999, 5000, 6000, 65535 };

  for (guint i = 0; i < G_N_ELEMENTS (valid); i++)
    {
      const guint8 payload[] = { valid[i] >> 8, valid[i] & 0xff, 'o', 'k' };

      g_assert_true (prd_eio_ws_close_code_is_valid (valid[i]));
      fixture_reset (f, LIMIT);
      append_frame (f->wire, TRUE, PRD_EIO_WS_OPCODE_CLOSE, 0xc0dec0de, payload, sizeof payload);
      expect_close (f, valid[i], payload, sizeof payload);
    }
  for (guint i = 0; i < G_N_ELEMENTS (invalid); i++)
    {
      const guint8 payload[] = { invalid[i] >> 8, invalid[i] & 0xff };
      PrdEioWsEvent event;
      gsize n;

      g_assert_false (prd_eio_ws_close_code_is_valid (invalid[i]));
      fixture_reset (f, LIMIT);
      append_frame (f->wire, TRUE, PRD_EIO_WS_OPCODE_CLOSE, 0xc0dec0de, payload, sizeof payload);
      n = prd_eio_ws_parser_feed (&f->parser, f->wire->data, f->wire->len, &event);
      g_assert_cmpuint (n, ==, f->wire->len);
      g_assert_cmpint (event.kind, ==, PRD_EIO_WS_EVENT_ERROR);
      g_assert_cmpuint (event.close_code, ==, 1002);
      g_assert_nonnull (event.error);
      assert_ignores_more (f);
    }
}

/* The wire, fed whole and byte by byte, gives @n_before events, then an
 * error with @code after exactly @at bytes; nothing after it is read. */
static void
assert_error_after (Fixture *f, guint n_before, guint64 limit, gushort code, gsize at)
{
  g_autofree char *expected = g_strdup_printf ("error %u", code);

  g_assert_cmpuint (at, <=, f->wire->len);
  for (guint bytewise = 0; bytewise < 2; bytewise++)
    {
      g_autoptr (GPtrArray) events = g_ptr_array_new_with_free_func (g_free);
      gsize done = 0;

      prd_eio_ws_parser_clear (&f->parser);
      prd_eio_ws_parser_init (&f->parser, limit);
      while (done < f->wire->len && events->len <= n_before)
        {
          gsize piece = bytewise ? 1 : f->wire->len - done;
          char *description;

          done += feed_checked (&f->parser, f->wire->data + done, piece, &description);
          if (g_str_equal (description, "none"))
            g_free (description);
          else
            g_ptr_array_add (events, description);
        }
      g_assert_cmpuint (events->len, ==, n_before + 1);
      for (guint i = 0; i < n_before; i++)
        g_assert_false (g_str_has_prefix (events->pdata[i], "error"));
      g_assert_cmpstr (events->pdata[n_before], ==, expected);
      g_assert_cmpuint (done, ==, at);
      assert_ignores_more (f);
    }
}

static void
assert_error_at (Fixture *f, guint64 limit, gushort code, gsize at)
{
  assert_error_after (f, 0, limit, code, at);
}

static void
test_error_reserved_bits (Fixture *f, gconstpointer data)
{
  static const guint8 bits[] = { RSV1, RSV2, RSV3, RSV1 | RSV2 | RSV3 };

  for (guint i = 0; i < G_N_ELEMENTS (bits); i++)
    {
      gsize first;

      fixture_reset (f, LIMIT);
      append_frame_full (f->wire, FIN | bits[i] | PRD_EIO_WS_OPCODE_TEXT, TRUE, 0x1, 0, "x", 1);
      assert_error_at (f, LIMIT, 1002, 2);

      fixture_reset (f, LIMIT);
      append_frame_full (f->wire, FIN | bits[i] | PRD_EIO_WS_OPCODE_PING, TRUE, 0x1, 0, "", 0);
      assert_error_at (f, LIMIT, 1002, 2);

      /* On a continuation frame. */
      fixture_reset (f, LIMIT);
      append_text (f->wire, FALSE, PRD_EIO_WS_OPCODE_BINARY, 0x2, "ab");
      first = f->wire->len;
      append_frame_full (f->wire, FIN | bits[i] | PRD_EIO_WS_OPCODE_CONTINUATION, TRUE, 0x3, 0, "c",
                         1);
      assert_error_at (f, LIMIT, 1002, first + 2);
    }
}

static void
test_error_unknown_opcode (Fixture *f, gconstpointer data)
{
  static const guint8 opcodes[] = { 0x3, 0x4, 0x5, 0x6, 0x7, 0xb, 0xc, 0xd, 0xe, 0xf };

  for (guint i = 0; i < G_N_ELEMENTS (opcodes); i++)
    {
      fixture_reset (f, LIMIT);
      append_frame_full (f->wire, FIN | opcodes[i], TRUE, 0xabcdef01, 0, "data", 4);
      assert_error_at (f, LIMIT, 1002, 2);

      fixture_reset (f, LIMIT);
      append_frame_full (f->wire, opcodes[i], TRUE, 0xabcdef01, 0, "", 0);
      assert_error_at (f, LIMIT, 1002, 2);
    }
}

static void
test_error_unmasked (Fixture *f, gconstpointer data)
{
  static const guint8 opcodes[] = { PRD_EIO_WS_OPCODE_TEXT, PRD_EIO_WS_OPCODE_BINARY,
                                    PRD_EIO_WS_OPCODE_PING, PRD_EIO_WS_OPCODE_PONG,
                                    PRD_EIO_WS_OPCODE_CLOSE };

  for (guint i = 0; i < G_N_ELEMENTS (opcodes); i++)
    {
      fixture_reset (f, LIMIT);
      append_frame_full (f->wire, FIN | opcodes[i], FALSE, 0, 0, "", 0);
      assert_error_at (f, LIMIT, 1002, 2);
    }

  /* The second frame of a message. */
  fixture_reset (f, LIMIT);
  append_text (f->wire, FALSE, PRD_EIO_WS_OPCODE_TEXT, 0x44444444, "masked");
  append_frame_full (f->wire, FIN | PRD_EIO_WS_OPCODE_CONTINUATION, FALSE, 0, 0, "not", 3);
  assert_error_at (f, LIMIT, 1002, 6 + 6 + 2);
}

static void
test_error_fragmented_control (Fixture *f, gconstpointer data)
{
  for (guint8 opcode = PRD_EIO_WS_OPCODE_CLOSE; opcode <= PRD_EIO_WS_OPCODE_PONG; opcode++)
    {
      fixture_reset (f, LIMIT);
      append_frame (f->wire, FALSE, opcode, 0x5a5a5a5a, "", 0);
      assert_error_at (f, LIMIT, 1002, 2);

      /* Inside a fragmented message. */
      fixture_reset (f, LIMIT);
      append_text (f->wire, FALSE, PRD_EIO_WS_OPCODE_TEXT, 0x5a5a5a5a, "x");
      append_frame (f->wire, FALSE, opcode, 0x5a5a5a5a, "\x03\xe8", 2);
      assert_error_at (f, LIMIT, 1002, 7 + 2);
    }
}

static void
test_error_control_too_long (Fixture *f, gconstpointer data)
{
  g_autofree guint8 *payload = g_malloc0 (200);

  for (guint8 opcode = PRD_EIO_WS_OPCODE_CLOSE; opcode <= PRD_EIO_WS_OPCODE_PONG; opcode++)
    {
      payload[0] = 0x03;
      payload[1] = 0xe8;

      fixture_reset (f, LIMIT);
      append_frame (f->wire, TRUE, opcode, 0x66666666, payload, 126);
      assert_error_at (f, LIMIT, 1002, 2);

      fixture_reset (f, LIMIT);
      append_frame_full (f->wire, FIN | opcode, TRUE, 0x66666666, 64, payload, 200);
      assert_error_at (f, LIMIT, 1002, 2);
    }
}

static void
test_error_continuation (Fixture *f, gconstpointer data)
{
  /* First thing on the connection. */
  append_text (f->wire, TRUE, PRD_EIO_WS_OPCODE_CONTINUATION, 0x77777777, "x");
  assert_error_at (f, LIMIT, 1002, 6);

  /* After a whole message, and a non-final one. */
  fixture_reset (f, LIMIT);
  append_text (f->wire, TRUE, PRD_EIO_WS_OPCODE_TEXT, 0x77777777, "a");
  append_text (f->wire, FALSE, PRD_EIO_WS_OPCODE_CONTINUATION, 0x77777777, "b");
  assert_error_after (f, 1, LIMIT, 1002, 7 + 6);

  /* After a fragmented message that ended, with a ping. */
  fixture_reset (f, LIMIT);
  append_text (f->wire, FALSE, PRD_EIO_WS_OPCODE_BINARY, 0x77777777, "a");
  append_text (f->wire, TRUE, PRD_EIO_WS_OPCODE_CONTINUATION, 0x77777777, "b");
  append_text (f->wire, TRUE, PRD_EIO_WS_OPCODE_PING, 0x77777777, "");
  append_text (f->wire, TRUE, PRD_EIO_WS_OPCODE_CONTINUATION, 0x77777777, "c");
  {
    g_autoptr (GPtrArray) events = NULL;
    gsize message_end = 7 + 7;

    events = parse_events (&f->parser, f->wire->data, message_end + 6, NULL, 0);
    assert_events (events, describe ("binary", (const guint8 *) "ab", 2),
                   describe ("ping", NULL, 0), NULL);
    assert_error_after (f, 2, LIMIT, 1002, message_end + 6 + 6);
  }
}

static void
test_error_new_message_inside (Fixture *f, gconstpointer data)
{
  static const guint8 opcodes[] = { PRD_EIO_WS_OPCODE_TEXT, PRD_EIO_WS_OPCODE_BINARY };

  for (guint i = 0; i < G_N_ELEMENTS (opcodes); i++)
    for (guint j = 0; j < G_N_ELEMENTS (opcodes); j++)
      {
        fixture_reset (f, LIMIT);
        append_text (f->wire, FALSE, opcodes[i], 0x88888888, "ab");
        append_text (f->wire, TRUE, opcodes[j], 0x88888888, "c");
        assert_error_at (f, LIMIT, 1002, 8 + 6);

        /* After a continuation and a pong. */
        fixture_reset (f, LIMIT);
        append_text (f->wire, FALSE, opcodes[i], 0x88888888, "ab");
        append_text (f->wire, FALSE, PRD_EIO_WS_OPCODE_CONTINUATION, 0x88888888, "c");
        append_text (f->wire, TRUE, PRD_EIO_WS_OPCODE_PONG, 0x88888888, "");
        append_text (f->wire, FALSE, opcodes[j], 0x88888888, "d");
        assert_error_after (f, 1, LIMIT, 1002, 8 + 7 + 6 + 6);
      }
}

static void
test_error_length_msb (Fixture *f, gconstpointer data)
{
  static const guint64 lengths[] = { G_GUINT64_CONSTANT (1) << 63, G_MAXUINT64 };

  for (guint i = 0; i < G_N_ELEMENTS (lengths); i++)
    {
      /* 1002, not 1009, even without a limit to pass. */
      fixture_reset (f, LIMIT);
      append_frame_full (f->wire, FIN | PRD_EIO_WS_OPCODE_BINARY, TRUE, 0x9, 64, NULL, lengths[i]);
      g_assert_cmpuint (f->wire->len, ==, 14);
      assert_error_at (f, LIMIT, 1002, 14);
      assert_error_at (f, G_MAXUINT64, 1002, 14);
    }
}

static void
test_error_close_one_byte (Fixture *f, gconstpointer data)
{
  append_frame (f->wire, TRUE, PRD_EIO_WS_OPCODE_CLOSE, 0xaaaaaaaa, "\x03", 1);
  assert_error_at (f, LIMIT, 1002, 7);
}

static const char *const invalid_utf8[] = {
  "\xff",                 /* never in UTF-8 */
  "abc\xc3",              /* a character cut short */
  "\xc3\x28",             /* a lead byte without its continuation */
  "\x80",                 /* a continuation byte alone */
  "\xc0\xaf",             /* overlong */
  "\xe0\x80\xaf",         /* overlong */
  "\xed\xa0\x80",         /* a UTF-16 surrogate */
  "\xf4\x90\x80\x80",     /* past U+10FFFF */
  "ok \xf0\x9d\x84",      /* a four-byte character cut short */
  "\xf8\x88\x80\x80\x80", /* five bytes */
};

static void
test_error_utf8_text (Fixture *f, gconstpointer data)
{
  for (guint i = 0; i < G_N_ELEMENTS (invalid_utf8); i++)
    {
      const char *s = invalid_utf8[i];
      gsize len = strlen (s);

      fixture_reset (f, LIMIT);
      append_text (f->wire, TRUE, PRD_EIO_WS_OPCODE_TEXT, 0xbbbbbbbb, s);
      assert_error_at (f, LIMIT, 1007, f->wire->len);

      /* As binary it is fine. */
      fixture_reset (f, LIMIT);
      append_text (f->wire, TRUE, PRD_EIO_WS_OPCODE_BINARY, 0xbbbbbbbb, s);
      {
        g_autoptr (GPtrArray) events = parse_wire (f);

        assert_events (events, describe ("binary", (const guint8 *) s, len), NULL);
      }

      /* In fragments: refused at the end of the message. */
      fixture_reset (f, LIMIT);
      append_text (f->wire, FALSE, PRD_EIO_WS_OPCODE_TEXT, 0xbbbbbbbb, "valid ");
      append_frame (f->wire, FALSE, PRD_EIO_WS_OPCODE_CONTINUATION, 0xcccccccc, s, len / 2);
      append_frame (f->wire, FALSE, PRD_EIO_WS_OPCODE_CONTINUATION, 0xdddddddd, s + len / 2,
                    len - len / 2);
      append_text (f->wire, TRUE, PRD_EIO_WS_OPCODE_CONTINUATION, 0xeeeeeeee, "");
      assert_error_at (f, LIMIT, 1007, f->wire->len);
    }
}

static void
test_error_utf8_reason (Fixture *f, gconstpointer data)
{
  for (guint i = 0; i < G_N_ELEMENTS (invalid_utf8); i++)
    {
      fixture_reset (f, LIMIT);
      append_close (f->wire, 0xf00dface, 1000, invalid_utf8[i]);
      assert_error_at (f, LIMIT, 1007, f->wire->len);
    }
}

/* U+0000 is a character like any other: valid in text and in a reason. */
static void
test_nul_character (Fixture *f, gconstpointer data)
{
  static const guint8 text[] = { 'a', 0, 'b', 0xc3, 0xa9, 0 };
  static const guint8 close[] = { 0x03, 0xe8, 'x', 0, 'y' };
  static const guint8 nul[] = { 0 };
  g_autoptr (GPtrArray) events = NULL;

  append_frame (f->wire, TRUE, PRD_EIO_WS_OPCODE_TEXT, 0x13579bdf, text, sizeof text);
  append_frame (f->wire, TRUE, PRD_EIO_WS_OPCODE_TEXT, 0x13579bdf, nul, 1);
  append_frame (f->wire, FALSE, PRD_EIO_WS_OPCODE_TEXT, 0x2468ace0, text, 4);
  append_frame (f->wire, TRUE, PRD_EIO_WS_OPCODE_CONTINUATION, 0x2468ace0, text + 4, 2);
  append_frame (f->wire, TRUE, PRD_EIO_WS_OPCODE_CLOSE, 0x11111111, close, sizeof close);
  events = parse_wire (f);
  assert_events (events, describe ("text", text, sizeof text), describe ("text", nul, 1),
                 describe ("text", text, sizeof text), describe_close (1000, close, sizeof close),
                 NULL);

  /* What follows a NUL is checked all the same. */
  {
    static const guint8 bad_text[] = { 'a', 0, 0xff, 'b' };
    static const guint8 bad_close[] = { 0x03, 0xe8, 0, 0xc3 };

    fixture_reset (f, LIMIT);
    append_frame (f->wire, TRUE, PRD_EIO_WS_OPCODE_TEXT, 0x13579bdf, bad_text, sizeof bad_text);
    assert_error_at (f, LIMIT, 1007, f->wire->len);

    fixture_reset (f, LIMIT);
    append_frame (f->wire, TRUE, PRD_EIO_WS_OPCODE_CLOSE, 0x13579bdf, bad_close, sizeof bad_close);
    assert_error_at (f, LIMIT, 1007, f->wire->len);
  }
}

static void
test_limit (Fixture *f, gconstpointer data)
{
  g_autofree guint8 *payload = g_malloc (2000);
  g_autoptr (GPtrArray) events = NULL;
  g_autofree char *description = NULL;
  gsize first, n;

  memset (payload, 'z', 2000);

  /* A header that announces more than the limit is refused before any of
   * its payload arrives: only the header is fed. */
  fixture_reset (f, 1000);
  append_frame_full (f->wire, FIN | PRD_EIO_WS_OPCODE_TEXT, TRUE, 0x1234, 0, NULL, 1001);
  g_assert_cmpuint (f->wire->len, ==, 8);
  assert_error_at (f, 1000, 1009, 8);

  fixture_reset (f, 1000);
  append_frame_full (f->wire, FIN | PRD_EIO_WS_OPCODE_BINARY, TRUE, 0x1234, 0, NULL,
                     G_GUINT64_CONSTANT (1) << 40);
  g_assert_cmpuint (f->wire->len, ==, 14);
  assert_error_at (f, 1000, 1009, 14);

  /* A non-final fragment too. */
  fixture_reset (f, 1000);
  append_frame_full (f->wire, PRD_EIO_WS_OPCODE_BINARY, TRUE, 0x1234, 0, NULL, 5000);
  assert_error_at (f, 1000, 1009, 8);

  /* Fragments whose sum is over the limit: refused at the header of the
   * one that passes it. */
  fixture_reset (f, 1000);
  append_frame (f->wire, FALSE, PRD_EIO_WS_OPCODE_TEXT, 0x1234, payload, 600);
  first = f->wire->len;
  append_frame_full (f->wire, FIN | PRD_EIO_WS_OPCODE_CONTINUATION, TRUE, 0x1234, 0, NULL, 401);
  assert_error_at (f, 1000, 1009, first + 8);

  fixture_reset (f, 1000);
  append_frame (f->wire, FALSE, PRD_EIO_WS_OPCODE_BINARY, 0x1234, payload, 400);
  append_frame (f->wire, FALSE, PRD_EIO_WS_OPCODE_CONTINUATION, 0x1234, payload, 400);
  append_text (f->wire, TRUE, PRD_EIO_WS_OPCODE_PING, 0x1234, "control frames do not count");
  first = f->wire->len;
  append_frame_full (f->wire, FIN | PRD_EIO_WS_OPCODE_CONTINUATION, TRUE, 0x1234, 0, NULL, 201);
  assert_error_after (f, 1, 1000, 1009, first + 8);

  /* Exactly at the limit: whole, in fragments with control frames between,
   * and a zero limit that takes empty messages. */
  fixture_reset (f, 1000);
  append_frame (f->wire, TRUE, PRD_EIO_WS_OPCODE_TEXT, 0x1234, payload, 1000);
  append_frame (f->wire, FALSE, PRD_EIO_WS_OPCODE_BINARY, 0x1234, payload, 600);
  append_frame (f->wire, TRUE, PRD_EIO_WS_OPCODE_PING, 0x1234, payload, 125);
  append_frame (f->wire, FALSE, PRD_EIO_WS_OPCODE_CONTINUATION, 0x1234, payload, 400);
  append_frame (f->wire, TRUE, PRD_EIO_WS_OPCODE_CONTINUATION, 0x1234, payload, 0);
  events = parse_wire (f);
  assert_events (events, describe ("text", payload, 1000), describe ("ping", payload, 125),
                 describe ("binary", payload, 1000), NULL);
  g_clear_pointer (&events, g_ptr_array_unref);

  fixture_reset (f, 0);
  append_frame (f->wire, TRUE, PRD_EIO_WS_OPCODE_TEXT, 0x1234, "", 0);
  append_frame (f->wire, FALSE, PRD_EIO_WS_OPCODE_BINARY, 0x1234, "", 0);
  append_frame (f->wire, TRUE, PRD_EIO_WS_OPCODE_CONTINUATION, 0x1234, "", 0);
  append_text (f->wire, TRUE, PRD_EIO_WS_OPCODE_PING, 0x1234, "x");
  append_frame (f->wire, TRUE, PRD_EIO_WS_OPCODE_TEXT, 0x1234, "x", 1);
  events = parse_events (&f->parser, f->wire->data, f->wire->len - 7, NULL, 0);
  assert_events (events, describe ("text", NULL, 0), describe ("binary", NULL, 0),
                 describe ("ping", (const guint8 *) "x", 1), NULL);
  n = feed_checked (&f->parser, f->wire->data + f->wire->len - 7, 7, &description);
  g_assert_cmpuint (n, ==, 6);
  g_assert_cmpstr (description, ==, "error 1009");
}

static void
test_frame_header (void)
{
  static const struct
  {
    PrdEioWsOpcode opcode;
    guint64 len;
    guint8 bytes[10];
    gsize n;
  } cases[] = {
    { PRD_EIO_WS_OPCODE_TEXT, 0, { 0x81, 0x00 }, 2 },
    { PRD_EIO_WS_OPCODE_BINARY, 125, { 0x82, 0x7d }, 2 },
    { PRD_EIO_WS_OPCODE_TEXT, 126, { 0x81, 0x7e, 0x00, 0x7e }, 4 },
    { PRD_EIO_WS_OPCODE_BINARY, 65535, { 0x82, 0x7e, 0xff, 0xff }, 4 },
    { PRD_EIO_WS_OPCODE_TEXT, 65536, { 0x81, 0x7f, 0, 0, 0, 0, 0, 0x01, 0, 0 }, 10 },
    { PRD_EIO_WS_OPCODE_BINARY,
      (G_GUINT64_CONSTANT (1) << 32) + 5,
      { 0x82, 0x7f, 0, 0, 0, 0x01, 0, 0, 0, 0x05 },
      10 },
    { PRD_EIO_WS_OPCODE_CLOSE, 2, { 0x88, 0x02 }, 2 },
    { PRD_EIO_WS_OPCODE_PING, 0, { 0x89, 0x00 }, 2 },
    { PRD_EIO_WS_OPCODE_PONG, 125, { 0x8a, 0x7d }, 2 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      guint8 header[14];
      gsize n;

      memset (header, 0xaa, sizeof header);
      n = prd_eio_ws_frame_header (header, cases[i].opcode, cases[i].len);
      g_assert_cmpmem (header, n, cases[i].bytes, cases[i].n);
      /* Nothing written past the header. */
      for (gsize k = n; k < sizeof header; k++)
        g_assert_cmpuint (header[k], ==, 0xaa);
    }
}

static void
expect_busy (Fixture *f, gsize from, gsize to, PrdEioWsEventKind kind, gboolean busy)
{
  PrdEioWsEvent event;
  gsize n = prd_eio_ws_parser_feed (&f->parser, f->wire->data + from, to - from, &event);

  g_assert_cmpuint (n, ==, to - from);
  g_assert_cmpint (event.kind, ==, kind);
  g_clear_pointer (&event.message, g_bytes_unref);
  g_assert_cmpint (prd_eio_ws_parser_is_busy (&f->parser), ==, busy);
}

static void
test_busy (Fixture *f, gconstpointer data)
{
  const PrdEioWsEventKind none = PRD_EIO_WS_EVENT_NONE;
  gsize a, b, c, d;

  g_assert_false (prd_eio_ws_parser_is_busy (&f->parser));

  /* One frame: 2 + 2 + 4 bytes of header (16-bit length), 200 of payload. */
  {
    g_autofree guint8 *payload = g_malloc0 (200);

    append_frame (f->wire, TRUE, PRD_EIO_WS_OPCODE_BINARY, 0x42424242, payload, 200);
  }
  expect_busy (f, 0, 1, none, TRUE);
  expect_busy (f, 1, 2, none, TRUE);
  expect_busy (f, 2, 3, none, TRUE);
  expect_busy (f, 3, 6, none, TRUE);
  expect_busy (f, 6, 8, none, TRUE);
  expect_busy (f, 8, 9, none, TRUE);
  expect_busy (f, 9, 207, none, TRUE);
  expect_busy (f, 207, 208, PRD_EIO_WS_EVENT_MESSAGE, FALSE);

  /* A fragmented message, with a ping between messages and one inside. */
  fixture_reset (f, LIMIT);
  append_text (f->wire, TRUE, PRD_EIO_WS_OPCODE_PING, 0x42424242, "out");
  a = f->wire->len;
  append_text (f->wire, FALSE, PRD_EIO_WS_OPCODE_TEXT, 0x42424242, "");
  b = f->wire->len;
  append_text (f->wire, FALSE, PRD_EIO_WS_OPCODE_CONTINUATION, 0x42424242, "ab");
  c = f->wire->len;
  append_text (f->wire, TRUE, PRD_EIO_WS_OPCODE_PING, 0x42424242, "in");
  d = f->wire->len;
  append_text (f->wire, TRUE, PRD_EIO_WS_OPCODE_CONTINUATION, 0x42424242, "c");
  expect_busy (f, 0, a, PRD_EIO_WS_EVENT_PING, FALSE);
  expect_busy (f, a, b, none, TRUE);
  expect_busy (f, b, c, none, TRUE);
  expect_busy (f, c, c + 1, none, TRUE);
  expect_busy (f, c + 1, d, PRD_EIO_WS_EVENT_PING, TRUE);
  expect_busy (f, d, d + 7, PRD_EIO_WS_EVENT_MESSAGE, FALSE);
  g_assert_cmpuint (d + 7, ==, f->wire->len);

  /* An empty message. */
  fixture_reset (f, LIMIT);
  append_text (f->wire, TRUE, PRD_EIO_WS_OPCODE_TEXT, 0x42424242, "");
  expect_busy (f, 0, 5, none, TRUE);
  expect_busy (f, 5, 6, PRD_EIO_WS_EVENT_MESSAGE, FALSE);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) \
  g_test_add ("/prd/eio-ws-frame/" path, Fixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("single-message", test_single_message);
  ADD ("length-forms", test_length_forms);
  ADD ("ping-pong", test_ping_pong);
  ADD ("fragmented", test_fragmented);
  ADD ("pieces", test_pieces);
  ADD ("several-frames", test_several_frames);
  ADD ("close", test_close);
  ADD ("close-codes", test_close_codes);
  ADD ("nul-character", test_nul_character);
  ADD ("limit", test_limit);
  ADD ("busy", test_busy);
  ADD ("error/reserved-bits", test_error_reserved_bits);
  ADD ("error/unknown-opcode", test_error_unknown_opcode);
  ADD ("error/unmasked", test_error_unmasked);
  ADD ("error/fragmented-control", test_error_fragmented_control);
  ADD ("error/control-too-long", test_error_control_too_long);
  ADD ("error/continuation", test_error_continuation);
  ADD ("error/new-message-inside", test_error_new_message_inside);
  ADD ("error/length-msb", test_error_length_msb);
  ADD ("error/close-one-byte", test_error_close_one_byte);
  ADD ("error/utf8-text", test_error_utf8_text);
  ADD ("error/utf8-reason", test_error_utf8_reason);
#undef ADD
  g_test_add_func ("/prd/eio-ws-frame/frame-header", test_frame_header);

  return g_test_run ();
}
