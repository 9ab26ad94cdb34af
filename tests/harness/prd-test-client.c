/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The /prds client of the in-process hub tests. A server ping ("2") is
 * answered at once so that long waits do not time the session out; every
 * wait is bounded (PRD_TEST_TIMEOUT_MS).
 */
#define G_LOG_DOMAIN "prd-test"

#include "config.h"

#include <string.h>

#include "prd-test-harness.h"

static void
on_message (SoupWebsocketConnection *ws, int type, GBytes *bytes, gpointer user_data)
{
  PrdTestClient *client = user_data;
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
  ((PrdTestClient *) user_data)->closed = TRUE;
}

static void
on_connected (GObject *source, GAsyncResult *result, gpointer user_data)
{
  PrdTestClient *client = user_data;

  client->ws =
      soup_session_websocket_connect_finish (SOUP_SESSION (source), result, &client->error);
  client->done = TRUE;
}

static gboolean
has_message_or_closed (gpointer data)
{
  PrdTestClient *client = data;

  return !g_queue_is_empty (&client->messages) || client->closed;
}

char *
prd_test_client_next_message (PrdTestClient *client)
{
  prd_test_wait_until (has_message_or_closed, client, PRD_TEST_TIMEOUT_MS);
  return g_queue_pop_head (&client->messages);
}

/* Takes the first message starting with @prefix, leaving the others queued
 * (an event may arrive before the ack the test waits for first). */
typedef struct
{
  PrdTestClient *client;
  const char *prefix;
  GList *link;
} Take;

static gboolean
find_message (gpointer data)
{
  Take *take = data;

  for (GList *l = take->client->messages.head; l != NULL; l = l->next)
    if (g_str_has_prefix (l->data, take->prefix))
      {
        take->link = l;
        return TRUE;
      }
  g_assert_false (take->client->closed);
  return FALSE;
}

char *
prd_test_client_take_message (PrdTestClient *client, const char *prefix)
{
  Take take = { client, prefix, NULL };
  g_autofree char *what = g_strdup_printf ("a message starting with %s", prefix);
  char *text;

  prd_test_wait_until_full (find_message, &take, PRD_TEST_TIMEOUT_MS, what, __FILE__, __LINE__);
  text = take.link->data;
  g_queue_delete_link (&client->messages, take.link);
  return text;
}

void
prd_test_client_free (PrdTestClient *client)
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
prd_test_client_emit (PrdTestClient *client, const char *event, const char *payload_json)
{
  gint64 id = client->next_ack++;
  g_autofree char *text =
      g_strdup_printf ("42/prds,%" G_GINT64_FORMAT "[\"%s\",%s]", id, event, payload_json);

  soup_websocket_connection_send_text (client->ws, text);
  return id;
}

/* Waits for the event @event; returns its payload. */
JsonNode *
prd_test_client_wait_event (PrdTestClient *client, const char *event)
{
  g_autofree char *prefix = g_strdup_printf ("42/prds,[\"%s\",", event);

  g_autofree char *text = prd_test_client_take_message (client, prefix);
  g_autoptr (JsonNode) array = NULL;
  g_autoptr (GError) error = NULL;

  array = json_from_string (text + strlen ("42/prds,"), &error);
  g_assert_no_error (error);
  return json_node_copy (json_array_get_element (json_node_get_array (array), 1));
}

/* Waits for the ack @id; returns its object. */
JsonNode *
prd_test_client_wait_ack (PrdTestClient *client, gint64 id)
{
  g_autofree char *prefix = g_strdup_printf ("43/prds,%" G_GINT64_FORMAT "[", id);

  g_autofree char *text = prd_test_client_take_message (client, prefix);
  g_autoptr (JsonNode) array = NULL;
  g_autoptr (GError) error = NULL;

  array = json_from_string (text + strlen (prefix) - 1, &error);
  g_assert_no_error (error);
  return json_node_copy (json_array_get_element (json_node_get_array (array), 0));
}

JsonNode *
prd_test_client_request (PrdTestClient *client, const char *event, const char *payload_json)
{
  return prd_test_client_wait_ack (client, prd_test_client_emit (client, event, payload_json));
}

void
prd_test_assert_ok (JsonNode *ack)
{
  g_autofree char *text = json_to_string (ack, FALSE);

  g_assert_true (JSON_NODE_HOLDS_OBJECT (ack));
  if (!json_object_get_boolean_member_with_default (json_node_get_object (ack), "ok", FALSE))
    g_error ("expected an ok ack, got %s", text);
}

const char *
prd_test_ack_error_code (JsonNode *ack)
{
  JsonObject *error = json_object_get_object_member (json_node_get_object (ack), "error");

  g_assert_nonnull (error);
  return json_object_get_string_member (error, "code");
}

static gboolean
is_done (gpointer data)
{
  return ((PrdTestClient *) data)->done;
}

/* Opens a WebSocket session to @hub_url and connects to /prds with @token. */
PrdTestClient *
prd_test_client_connect (const char *hub_url, const char *token)
{
  g_autoptr (PrdTestClient) client = g_new0 (PrdTestClient, 1);
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
  prd_test_wait_until (is_done, client, PRD_TEST_TIMEOUT_MS);
  g_assert_no_error (client->error);
  g_signal_connect (client->ws, "message", G_CALLBACK (on_message), client);
  g_signal_connect (client->ws, "closed", G_CALLBACK (on_closed), client);
  open = prd_test_client_next_message (client);
  g_assert_true (g_str_has_prefix (open, "0{"));

  connect = g_strdup_printf ("40/prds,{\"token\":\"%s\"}", token);
  soup_websocket_connection_send_text (client->ws, connect);
  connected = prd_test_client_next_message (client);
  g_assert_true (g_str_has_prefix (connected, "40/prds,{\"sid\":"));
  return g_steal_pointer (&client);
}
