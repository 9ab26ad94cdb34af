/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "prd-fuzz"

#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <glib/gstdio.h>
#include <unistd.h>

#include "prd-eio-private.h"
#include "prd-fuzz.h"
#include "prd-hub-config.h"
#include "prd-hub.h"
#include "prd-json.h"
#include "prd-sio-private.h"
#include "prd-test-harness.h"

/*
 * Every event's payload reader: a whole hub (SQLite store, git versions,
 * every feature) runs in the process, with one connected client on /prds
 * and /notifications that has joined the PRD `prd_fuzz` for editing. Each
 * line of the input is one event, "<event name> <JSON>": the JSON is the
 * event's payload (an array is its whole argument list); the event is
 * encoded and decoded as an EVENT packet with an ack id, and handed to the
 * client's socket (prd_sio_socket_handle_event: pending acks, rate limits,
 * then the feature's handler), and the hub's main loop runs until the event's ack
 * has been sent (after its store write, for what writes).
 * `subscribe` and `mark-read` go to /notifications, every other name to
 * /prds. Lines that are not JSON are skipped (the decoders have targets of
 * their own).
 *
 * Everything the client is sent is read back (prd_eio_socket_take_queued())
 * and must decode with the strict Socket.IO decoder; each event must get its
 * ack, `{ ok: true, ... }` or `{ error: { code, message } }`, within
 * ANSWER_TIMEOUT_S. The client is connected again every RECONNECT_EVERY
 * inputs (and after the hub disconnected it), and the whole hub is made
 * again every RESET_EVERY inputs, in a new folder, so that what the inputs
 * create does not pile up. Seeds: corpus/events/, from the examples of
 * docs/protocol.md and the seed's websocket-api.md.
 */

#define SECRET           "fuzz-secret-fuzz-secret-fuzz-secret-0123456789"
#define PRD_ID           "prd_fuzz"
#define USER_ID          "alice"
#define ORG              "acme"
#define MAX_LINES        16
#define RECONNECT_EVERY  500
#define RESET_EVERY      250
#define ANSWER_TIMEOUT_S 10

static const char config_text[] = "[rate-limit]\n"
                                  "default=1000000/1\n"
                                  "collab=1000000/1\n";

static struct
{
  char *tmp_dir;
  PrdHubConfig *config;
  PrdAuth *auth;
  PrdStore *store;
  PrdHub *hub;
  char *token;
  PrdEioSocket *engine_socket;
  PrdSioSocket *prds;
  PrdSioSocket *notifications;
  guint n_inputs;
  guint n_clients;
  gint64 ack_id;
} fx;

/* What is ready on the main context, without waiting. */
static void
drain (void)
{
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

static gboolean
on_answer_timeout (gpointer user_data)
{
  *(gboolean *) user_data = TRUE;
  return G_SOURCE_REMOVE;
}

/* An ack: [{ ok: true, ... }] or [{ ok: false, error: { code, message } }]. */
static void
check_ack (PrdSioPacket *packet, const char *event)
{
  JsonArray *args;
  JsonObject *ack;

  g_assert_nonnull (packet->data);
  g_assert_true (JSON_NODE_HOLDS_ARRAY (packet->data));
  args = json_node_get_array (packet->data);
  g_assert_cmpuint (json_array_get_length (args), ==, 1);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (json_array_get_element (args, 0)));
  ack = json_array_get_object_element (args, 0);
  if (json_object_has_member (ack, "error"))
    {
      JsonObject *error = json_object_get_object_member (ack, "error");

      g_assert_false (json_object_get_boolean_member_with_default (ack, "ok", FALSE));
      g_assert_nonnull (error);
      g_assert_nonnull (json_object_get_string_member_with_default (error, "code", NULL));
      g_assert_nonnull (json_object_get_string_member_with_default (error, "message", NULL));
    }
  else
    g_assert_true (json_object_get_boolean_member_with_default (ack, "ok", FALSE));
}

/* Reads what the client was sent: every message must be a Socket.IO packet
 * the strict decoder takes (JSON included); returns whether the ack of
 * @ack_id was among them. */
static gboolean
read_output (gint64 ack_id, const char *event)
{
  g_autoptr (GPtrArray) packets = prd_eio_socket_take_queued (fx.engine_socket);
  gboolean answered = FALSE;

  for (guint i = 0; i < packets->len; i++)
    {
      PrdEioPacket *eio = packets->pdata[i];
      g_autoptr (PrdSioPacket) packet = NULL;
      g_autoptr (GError) error = NULL;
      const char *text;
      gsize len;

      if (eio->type != PRD_EIO_PACKET_MESSAGE || eio->binary)
        continue;
      text = prd_eio_packet_get_text (eio, &len);
      packet = prd_sio_packet_decode (text, len, &error);
      if (packet == NULL)
        g_error ("The hub sent what its own decoder refuses (%s): %.*s", error->message, (int) len,
                 text);
      g_assert_false (packet->unusable_payload);
      if (packet->type == PRD_SIO_PACKET_ACK && packet->id == ack_id)
        {
          check_ack (packet, event);
          answered = TRUE;
        }
    }
  return answered;
}

/* Every event is answered (its ack), if only with an error: runs the main
 * loop until the ack of @ack_id was sent, for at most ANSWER_TIMEOUT_S. */
static void
wait_for_answer (gint64 ack_id, const char *event)
{
  gboolean timed_out = FALSE;
  guint timeout = g_timeout_add_seconds (ANSWER_TIMEOUT_S, on_answer_timeout, &timed_out);

  drain ();
  while (!read_output (ack_id, event) && prd_eio_socket_is_open (fx.engine_socket))
    {
      if (timed_out)
        g_error ("No answer to '%s' within %d s", event, ANSWER_TIMEOUT_S);
      g_main_context_iteration (NULL, TRUE);
    }
  if (!timed_out)
    g_source_remove (timeout);
  /* What follows the ack (broadcasts), read and checked too. */
  drain ();
  read_output (-2, event);
}

static PrdSioSocket *
namespace_socket (const char *name)
{
  PrdSioNamespace *nsp = prd_sio_server_lookup (prd_hub_get_sio_server (fx.hub), name);
  g_autoptr (GPtrArray) sockets = prd_sio_namespace_get_room_sockets (nsp, NULL);

  g_assert_cmpuint (sockets->len, ==, 1);
  return g_object_ref (sockets->pdata[0]);
}

static void
dispatch (PrdSioSocket *socket, const char *nsp, const char *event, JsonNode *array)
{
  g_autoptr (PrdSioPacket) built =
      prd_sio_packet_new (PRD_SIO_PACKET_EVENT, nsp, ++fx.ack_id, json_node_ref (array));
  g_autofree char *text = prd_sio_packet_encode (built);
  /* Decoded as a client's packet is: an event named by a string keeps its
   * text, which a text handler reads (content-update). Names the decoder
   * refuses (reserved ones) go in as the tree. */
  g_autoptr (PrdSioPacket) decoded = prd_sio_packet_decode (text, strlen (text), NULL);
  PrdSioPacket *packet = decoded != NULL ? decoded : built;

  if (!prd_sio_socket_is_connected (socket))
    return;
  prd_sio_socket_handle_event (socket, packet);
  wait_for_answer (packet->id, event);
}

static void
dispatch_text (PrdSioSocket *socket, const char *nsp, const char *json)
{
  g_autoptr (JsonNode) array = prd_json_parse (json, -1, 0, NULL);

  g_assert_nonnull (array);
  dispatch (socket, nsp, json_array_get_string_element (json_node_get_array (array), 0), array);
}

static void
disconnect (void)
{
  if (fx.engine_socket == NULL)
    return;
  prd_eio_socket_close (fx.engine_socket, "transport close");
  drain ();
  g_ptr_array_unref (prd_eio_socket_take_queued (fx.engine_socket));
  g_clear_object (&fx.prds);
  g_clear_object (&fx.notifications);
  g_clear_object (&fx.engine_socket);
}

static void
connect_client (void)
{
  PrdEioConfig eio_config = {
    .ping_interval = 3600000,
    .ping_timeout = 3600000,
    .upgrade_timeout = 10000,
    .max_payload = 1000000,
    .max_write_buffer = G_MAXUINT32,
  };
  g_autofree char *id = g_strdup_printf ("fuzz-%u", ++fx.n_clients);
  g_autofree char *connect_prds = NULL;
  g_autofree char *connect_notifications = NULL;

  fx.engine_socket = prd_eio_socket_new_internal (id, "127.0.0.1", &eio_config);
  g_signal_emit_by_name (prd_hub_get_engine (fx.hub), "connection", fx.engine_socket);
  connect_prds = g_strdup_printf ("0/prds,{\"token\":\"%s\"}", fx.token);
  connect_notifications = g_strdup_printf ("0/notifications,{\"token\":\"%s\"}", fx.token);
  g_signal_emit_by_name (fx.engine_socket, "text-message", connect_prds,
                         (gulong) strlen (connect_prds));
  g_signal_emit_by_name (fx.engine_socket, "text-message", connect_notifications,
                         (gulong) strlen (connect_notifications));
  drain ();
  g_ptr_array_unref (prd_eio_socket_take_queued (fx.engine_socket));
  fx.prds = namespace_socket ("/prds");
  fx.notifications = namespace_socket ("/notifications");
  dispatch_text (fx.prds, "/prds", "[\"join-prd\",{\"prdId\":\"" PRD_ID "\",\"mode\":\"edit\"}]");
  g_assert_true (prd_sio_socket_in_room (fx.prds, "prd:" PRD_ID));
}

static void
teardown (void)
{
  disconnect ();
  g_clear_object (&fx.hub);
  drain ();
  prd_test_store_close (fx.store);
  g_clear_object (&fx.store);
  g_clear_object (&fx.auth);
  g_clear_pointer (&fx.config, prd_hub_config_unref);
  prd_test_remove_tree (fx.tmp_dir);
  g_clear_pointer (&fx.tmp_dir, g_free);
  g_clear_pointer (&fx.token, g_free);
}

static void
setup (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) secret = g_bytes_new_static (SECRET, strlen (SECRET));
  g_autoptr (PrdStoreInfo) info = NULL;
  g_autofree char *db = NULL;

  /* In memory when possible: the store syncs every commit. */
  if (g_file_test ("/dev/shm", G_FILE_TEST_IS_DIR) && g_access ("/dev/shm", W_OK) == 0)
    {
      fx.tmp_dir = g_strdup ("/dev/shm/prd-fuzz-events-XXXXXX");
      g_assert_nonnull (g_mkdtemp (fx.tmp_dir));
    }
  else
    fx.tmp_dir = prd_test_make_tmp_dir ("prd-fuzz-events-XXXXXX");
  fx.config = prd_hub_config_new ();
  g_assert_true (prd_hub_config_set (fx.config, "server", "data-dir", fx.tmp_dir, &error));
  g_assert_true (prd_hub_config_load_data (fx.config, config_text, -1, &error));
  g_assert_true (prd_hub_config_validate (fx.config, &error));
  fx.auth = prd_auth_new_hmac (secret, &error);
  g_assert_no_error (error);
  db = g_build_filename (fx.tmp_dir, "prdhub.db", NULL);
  fx.store = prd_test_store_open (db, &error);
  g_assert_no_error (error);
  info = prd_test_store_create (fx.store, PRD_ID, ORG, "Fuzz PRD", USER_ID, &error);
  g_assert_no_error (error);

  fx.hub = prd_hub_new (fx.config, fx.auth);
  prd_test_start_hub (fx.hub, fx.store);
  fx.token = prd_test_mint_token (fx.auth, USER_ID, ORG, PRD_ROLE_ADMIN);
  connect_client ();
}

/* Criticals (a g_return_if_fail() that failed) are bugs; the hub's
 * warnings about what a client sent are not, and would only slow the run. */
static GLogWriterOutput
log_writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
  if ((level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL)) != 0)
    {
      g_log_writer_standard_streams (level, fields, n_fields, user_data);
      abort ();
    }
  return G_LOG_WRITER_HANDLED;
}

/* libFuzzer ends with exit(): the data folder goes with it. */
static void
remove_data (void)
{
  if (fx.tmp_dir != NULL)
    prd_test_remove_tree (fx.tmp_dir);
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  g_log_set_writer_func (log_writer, NULL, NULL);
  setup ();
  atexit (remove_data);
  return 0;
}

static void
run_line (const char *line, gsize len)
{
  const char *space = memchr (line, ' ', len);
  g_autofree char *event = NULL;
  g_autoptr (JsonNode) payload = NULL;
  g_autoptr (JsonNode) array = NULL;
  JsonArray *args;
  gboolean notifications;

  if (space == NULL)
    space = line + len;
  event = g_strndup (line, (gsize) (space - line));
  if (!g_utf8_validate (event, -1, NULL) || strlen (event) != (gsize) (space - line))
    return;
  if (space < line + len)
    {
      payload = prd_json_parse (space + 1, (gssize) (len - (gsize) (space - line) - 1), 0, NULL);
      if (payload == NULL)
        return;
    }

  args = json_array_new ();
  json_array_add_string_element (args, event);
  if (payload != NULL && JSON_NODE_HOLDS_ARRAY (payload))
    {
      JsonArray *list = json_node_get_array (payload);

      for (guint i = 0; i < json_array_get_length (list); i++)
        json_array_add_element (args, json_node_copy (json_array_get_element (list, i)));
    }
  else if (payload != NULL)
    json_array_add_element (args, g_steal_pointer (&payload));
  array = json_node_init_array (json_node_alloc (), args);
  json_array_unref (args);

  notifications = g_str_equal (event, "subscribe") || g_str_equal (event, "mark-read");
  if (notifications)
    dispatch (fx.notifications, "/notifications", event, array);
  else
    dispatch (fx.prds, "/prds", event, array);
}

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  const char *text = (const char *) data;
  const char *end = text + size;
  guint n_lines = 0;

  fx.n_inputs++;
  if (fx.n_inputs % RESET_EVERY == 0)
    {
      teardown ();
      setup ();
    }
  else if (fx.n_inputs % RECONNECT_EVERY == 0 || !prd_sio_socket_is_connected (fx.prds) ||
           !prd_sio_socket_is_connected (fx.notifications))
    {
      disconnect ();
      connect_client ();
    }

  while (text < end && n_lines++ < MAX_LINES)
    {
      const char *nl = memchr (text, '\n', (gsize) (end - text));
      gsize len = (gsize) ((nl != NULL ? nl : end) - text);

      run_line (text, len);
      text += len + 1;
    }
  return 0;
}
