/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The shared client of the in-process /prds tests; see test-prds-client.h.
 * A server ping ("2") is answered at once so that long waits do not time
 * the session out.
 */
#include "config.h"

#include <string.h>

#include <glib/gstdio.h>

#include "prd-hub-room.h"
#include "prd-sqlite-store.h"

#include "test-prds-client.h"

static void
on_message (SoupWebsocketConnection *ws, int type, GBytes *bytes, gpointer user_data)
{
  Client *client = user_data;
  gsize len;
  const char *data = g_bytes_get_data (bytes, &len);

  if (len == 1 && data[0] == '2')
    {
      soup_websocket_connection_send_text (ws, "3");
      return;
    }
  g_queue_push_tail (&client->messages, g_strndup (data, len));
}

static void
on_closed (SoupWebsocketConnection *ws, gpointer user_data)
{
  ((Client *) user_data)->closed = TRUE;
}

static void
on_connected (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Client *client = user_data;

  client->ws =
      soup_session_websocket_connect_finish (SOUP_SESSION (source), result, &client->error);
  client->done = TRUE;
}

char *
next_message (Client *client)
{
  while (g_queue_is_empty (&client->messages) && !client->closed)
    g_main_context_iteration (NULL, TRUE);
  return g_queue_pop_head (&client->messages);
}

/* Takes the first message starting with @prefix, leaving the others queued
 * (an event may arrive before the ack the test waits for first). */
char *
take_message (Client *client, const char *prefix)
{
  for (;;)
    {
      for (GList *l = client->messages.head; l != NULL; l = l->next)
        if (g_str_has_prefix (l->data, prefix))
          {
            char *text = l->data;

            g_queue_delete_link (&client->messages, l);
            return text;
          }
      g_assert_false (client->closed);
      g_main_context_iteration (NULL, TRUE);
    }
}

void
client_free (Client *client)
{
  if (client->ws != NULL)
    {
      g_signal_handlers_disconnect_by_data (client->ws, client);
      if (soup_websocket_connection_get_state (client->ws) == SOUP_WEBSOCKET_STATE_OPEN)
        soup_websocket_connection_close (client->ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
    }
  g_clear_object (&client->ws);
  g_clear_object (&client->session);
  g_queue_clear_full (&client->messages, g_free);
  g_clear_error (&client->error);
  g_free (client);
}

/* Sends @event with @payload_json and an ack id; returns the ack id. */
gint64
client_emit (Client *client, const char *event, const char *payload_json)
{
  gint64 id = client->next_ack++;
  g_autofree char *text =
      g_strdup_printf ("42/prds,%" G_GINT64_FORMAT "[\"%s\",%s]", id, event, payload_json);

  soup_websocket_connection_send_text (client->ws, text);
  return id;
}

/* Waits for the event @event; returns its payload. */
JsonNode *
wait_event (Client *client, const char *event)
{
  g_autofree char *prefix = g_strdup_printf ("42/prds,[\"%s\",", event);

  g_autofree char *text = take_message (client, prefix);
  g_autoptr (JsonNode) array = NULL;
  g_autoptr (GError) error = NULL;

  array = json_from_string (text + strlen ("42/prds,"), &error);
  g_assert_no_error (error);
  return json_node_copy (json_array_get_element (json_node_get_array (array), 1));
}

/* Waits for the ack @id; returns its object. */
JsonNode *
wait_ack (Client *client, gint64 id)
{
  g_autofree char *prefix = g_strdup_printf ("43/prds,%" G_GINT64_FORMAT "[", id);

  g_autofree char *text = take_message (client, prefix);
  g_autoptr (JsonNode) array = NULL;
  g_autoptr (GError) error = NULL;

  array = json_from_string (text + strlen (prefix) - 1, &error);
  g_assert_no_error (error);
  return json_node_copy (json_array_get_element (json_node_get_array (array), 0));
}

JsonNode *
request (Client *client, const char *event, const char *payload_json)
{
  return wait_ack (client, client_emit (client, event, payload_json));
}

void
assert_ok (JsonNode *ack)
{
  g_autofree char *text = json_to_string (ack, FALSE);

  g_assert_true (JSON_NODE_HOLDS_OBJECT (ack));
  if (!json_object_get_boolean_member_with_default (json_node_get_object (ack), "ok", FALSE))
    g_error ("expected an ok ack, got %s", text);
}

const char *
ack_error_code (JsonNode *ack)
{
  JsonObject *error = json_object_get_object_member (json_node_get_object (ack), "error");

  g_assert_nonnull (error);
  return json_object_get_string_member (error, "code");
}

void
result_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

GAsyncResult *
wait_result (GAsyncResult **slot)
{
  while (*slot == NULL)
    g_main_context_iteration (NULL, TRUE);
  return *slot;
}

/* prd_hub_set_store_async() to the end: every feature has started. */
void
start_hub (PrdHub *hub, PrdStore *store)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  gboolean started;

  prd_hub_set_store_async (hub, store, NULL, result_cb, &result);
  started = prd_hub_set_store_finish (hub, wait_result (&result), &error);
  g_assert_no_error (error);
  g_assert_true (started);
}

/* Opens a WebSocket session to @hub_url and connects to /prds with @token. */
Client *
client_connect (const char *hub_url, const char *token)
{
  g_autoptr (Client) client = g_new0 (Client, 1);
  g_autoptr (SoupMessage) msg = NULL;
  g_autoptr (GString) url = g_string_new (hub_url);
  g_autofree char *open = NULL;
  g_autofree char *connect = NULL;
  g_autofree char *connected = NULL;

  g_string_replace (url, "http", "ws", 1);
  g_string_append (url, "socket.io/?EIO=4&transport=websocket");
  client->session = soup_session_new ();
  g_queue_init (&client->messages);
  msg = soup_message_new ("GET", url->str);
  soup_session_websocket_connect_async (client->session, msg, NULL, NULL, G_PRIORITY_DEFAULT, NULL,
                                        on_connected, client);
  while (!client->done)
    g_main_context_iteration (NULL, TRUE);
  g_assert_no_error (client->error);
  g_signal_connect (client->ws, "message", G_CALLBACK (on_message), client);
  g_signal_connect (client->ws, "closed", G_CALLBACK (on_closed), client);
  open = next_message (client);
  g_assert_true (g_str_has_prefix (open, "0{"));

  connect = g_strdup_printf ("40/prds,{\"token\":\"%s\"}", token);
  soup_websocket_connection_send_text (client->ws, connect);
  connected = next_message (client);
  g_assert_true (g_str_has_prefix (connected, "40/prds,{\"sid\":"));
  return g_steal_pointer (&client);
}

char *
mint_token (PrdAuth *auth, const char *user, const char *org, PrdRole role)
{
  g_autoptr (PrdIdentity) identity =
      prd_identity_new (user, user, NULL, org, role, g_get_real_time () / G_USEC_PER_SEC + 3600);
  g_autoptr (GError) error = NULL;
  char *token = prd_auth_mint (auth, identity, &error);

  g_assert_no_error (error);
  return token;
}

/* What a fresh replica rebuilt from the store holds. */
char *
store_text (PrdStore *store, const char *prd_id, gint64 *out_snapshot_seq)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (PrdStoreDocument) stored = NULL;
  g_autoptr (PrdDocument) document = NULL;
  g_autoptr (GError) error = NULL;

  prd_store_load_async (store, prd_id, NULL, result_cb, &result);
  stored = prd_store_load_finish (store, wait_result (&result), &error);
  g_assert_no_error (error);
  if (out_snapshot_seq != NULL)
    *out_snapshot_seq = stored->info->snapshot_seq;
  document = prd_hub_document_from_store (stored, &error);
  g_assert_no_error (error);
  return prd_crdt_doc_get_text (prd_document_get_crdt (document));
}

void
remove_tree (const char *path)
{
  g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      if (g_file_test (child, G_FILE_TEST_IS_DIR) && !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
        remove_tree (child);
      else
        g_unlink (child);
    }
  g_rmdir (path);
}

/* A hub with a SQLite store in a fresh folder named after @prefix, listening
 * on 127.0.0.1:0; @config_data (nullable) is key-file text for its config. */
void
test_hub_setup (TestHub *f, const char *prefix, const char *secret_text, const char *config_data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) secret = g_bytes_new_static (secret_text, strlen (secret_text));
  g_autoptr (GAsyncResult) result = NULL;
  g_autofree char *db = NULL;

  f->tmp_dir = g_dir_make_tmp (prefix, &error);
  g_assert_no_error (error);
  f->config = prd_hub_config_new ();
  g_assert_true (prd_hub_config_set (f->config, "server", "listen", "127.0.0.1:0", &error));
  g_assert_true (prd_hub_config_set (f->config, "server", "data-dir", f->tmp_dir, &error));
  g_assert_true (
      prd_hub_config_load_data (f->config, config_data != NULL ? config_data : "", -1, &error));
  g_assert_true (prd_hub_config_validate (f->config, &error));
  f->auth = prd_auth_new_hmac (secret, &error);
  g_assert_no_error (error);

  db = g_build_filename (f->tmp_dir, "prdhub.db", NULL);
  prd_sqlite_store_new_async (db, NULL, result_cb, &result);
  f->store = PRD_STORE (prd_sqlite_store_new_finish (wait_result (&result), &error));
  g_assert_no_error (error);

  f->hub = prd_hub_new (f->config, f->auth);
  start_hub (f->hub, f->store);
  g_assert_true (prd_hub_listen (f->hub, &error));
  f->url = prd_hub_get_url (f->hub);
}

void
test_hub_teardown (TestHub *f)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  g_clear_object (&f->hub);
  prd_store_close_async (f->store, NULL, result_cb, &result);
  g_assert_true (prd_store_close_finish (f->store, wait_result (&result), &error));
  g_clear_object (&f->store);
  g_clear_object (&f->auth);
  g_clear_pointer (&f->config, prd_hub_config_unref);
  remove_tree (f->tmp_dir);
  g_free (f->tmp_dir);
  g_free (f->url);
}
