/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The D-Bus admin interface of a real `prdhub serve` process on a private
 * session bus (GTestDBus), with real Socket.IO clients (WebSocket, /prds)
 * and the scripted AI test server: every property, method and signal of
 * org.prdtool.Hub1 through the generated proxy, the errors, and what the
 * clients see of a disconnect, a cancel and a version. Then the hub without
 * a session bus, with --no-dbus, beside another hub owning the name, and a
 * stop: the TestIntegration under way, and the hub waiting for the name.
 *
 * The cases run in order on one hub; each leaves it as the next expects.
 */
#include "config.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <libsoup/soup.h>

#include "ai-test-server.h"
#include "prd-dbus-hub1.h"
#include "prd-error.h"

#include "test-hub-process.h"
#include "prd-test-harness.h"

#define SECRET   "dbus-test-secret-0123456789abcdef0123"
#define BUS_NAME "org.prdtool.Hub"
#define BUS_PATH "/org/prdtool/Hub"

static struct
{
  char *tmp_dir;
  AiTestServer *ai;
  HubProcess *hub;
  gint64 spawned_at;
  PrdAuth *auth;
  PrdDbusHub1 *proxy;
  char *prd_id;
  PrdTestClient *alice; /* editor of org_a, joined to prd_id in edit mode */
  PrdTestClient *bob;   /* viewer of org_b, not joined */
  guint sessions_changed;
  guint integration_changes;
  guint properties_changed;
  GPtrArray *job_changes; /* (element-type GVariant) */
} t;

/* ---- the hub process ---------------------------------------------------------- */

static HubProcess *
hub_spawn (const char *name, gboolean unset_bus, const char *extra_arg)
{
  g_autofree char *data_dir = g_build_filename (t.tmp_dir, name, NULL);
  g_autofree char *ai_url = ai_test_server_get_base_url (t.ai);

  return hub_process_spawn (data_dir, SECRET, ai_url, unset_bus, extra_arg);
}

static guint
count_occurrences (const char *haystack, const char *needle)
{
  guint n = 0;

  for (const char *p = strstr (haystack, needle); p != NULL; p = strstr (p + 1, needle))
    n++;
  return n;
}

static gboolean
owned_cond (gpointer data)
{
  return hub_name_has_owner () == GPOINTER_TO_INT (data);
}

/* ---- proxy helpers -------------------------------------------------------------- */

static void
on_g_signal (GDBusProxy *proxy,
             const char *sender,
             const char *signal,
             GVariant *parameters,
             gpointer user_data)
{
  if (g_str_equal (signal, "SessionsChanged"))
    t.sessions_changed++;
  else if (g_str_equal (signal, "IntegrationStatusChanged"))
    t.integration_changes++;
  else if (g_str_equal (signal, "AiJobChanged"))
    g_ptr_array_add (t.job_changes, g_variant_get_child_value (parameters, 0));
}

static void
on_properties_changed (GDBusProxy *proxy, GVariant *changed, GStrv invalidated, gpointer user_data)
{
  t.properties_changed++;
}

static GVariant *
list_sessions (void)
{
  g_autoptr (GError) error = NULL;
  GVariant *sessions = NULL;

  g_assert_true (prd_dbus_hub1_call_list_sessions_sync (t.proxy, &sessions, NULL, &error));
  g_assert_no_error (error);
  return sessions;
}

/* The session of @user_id on /prds, or NULL. */
static GVariant *
find_session (GVariant *sessions, const char *user_id)
{
  for (gsize i = 0; i < g_variant_n_children (sessions); i++)
    {
      g_autoptr (GVariant) session = g_variant_get_child_value (sessions, i);
      const char *user = NULL;

      g_assert_true (g_variant_lookup (session, "user-id", "&s", &user));
      if (g_str_equal (user, user_id))
        return g_steal_pointer (&session);
    }
  return NULL;
}

static GVariant *
list_jobs (void)
{
  g_autoptr (GError) error = NULL;
  GVariant *jobs = NULL;

  g_assert_true (prd_dbus_hub1_call_list_ai_jobs_sync (t.proxy, &jobs, NULL, &error));
  g_assert_no_error (error);
  return jobs;
}

static GVariant *
find_job (GVariant *jobs, const char *id)
{
  for (gsize i = 0; i < g_variant_n_children (jobs); i++)
    {
      g_autoptr (GVariant) job = g_variant_get_child_value (jobs, i);
      const char *job_id = NULL;

      g_assert_true (g_variant_lookup (job, "id", "&s", &job_id));
      if (g_str_equal (job_id, id))
        return g_steal_pointer (&job);
    }
  return NULL;
}

static const char *
lookup_string (GVariant *dict, const char *key)
{
  const char *value = NULL;

  if (!g_variant_lookup (dict, key, "&s", &value))
    g_error ("no %s in %s", key, g_variant_print (dict, TRUE));
  return value;
}

/* ---- REST ------------------------------------------------------------------------ */

static char *
create_prd (const char *token, const char *title)
{
  g_autoptr (SoupSession) session = soup_session_new ();
  g_autofree char *url = g_strconcat (t.hub->url, "api/prds", NULL);
  g_autofree char *auth = g_strconcat ("Bearer ", token, NULL);
  g_autofree char *body =
      g_strdup_printf ("{\"title\":\"%s\",\"content\":\"# %s\\n\"}", title, title);
  g_autoptr (SoupMessage) msg = soup_message_new ("POST", url);
  g_autoptr (GBytes) request_body = g_bytes_new (body, strlen (body));
  g_autoptr (GBytes) reply = NULL;
  g_autoptr (JsonNode) node = NULL;
  g_autoptr (GError) error = NULL;

  soup_message_headers_append (soup_message_get_request_headers (msg), "Authorization", auth);
  soup_message_set_request_body_from_bytes (msg, "application/json", request_body);
  reply = soup_session_send_and_read (session, msg, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (soup_message_get_status (msg), ==, 201);
  node = json_from_string (g_bytes_get_data (reply, NULL), &error);
  g_assert_no_error (error);
  return g_strdup (json_object_get_string_member (json_node_get_object (node), "id"));
}

/* ---- the cases ------------------------------------------------------------------- */

static void
test_properties_idle (void)
{
  gint64 started_at = prd_dbus_hub1_get_started_at (t.proxy);

  g_assert_cmpstr (prd_dbus_hub1_get_version (t.proxy), ==, PACKAGE_VERSION);
  g_assert_cmpstr (prd_dbus_hub1_get_listen_uri (t.proxy), ==, t.hub->url);
  g_assert_cmpint (started_at, >=, t.spawned_at);
  g_assert_cmpint (started_at, <=, g_get_real_time ());
  g_assert_cmpuint (prd_dbus_hub1_get_connections (t.proxy), ==, 0);
  g_assert_cmpuint (prd_dbus_hub1_get_joined_users (t.proxy), ==, 0);
  g_assert_cmpuint (prd_dbus_hub1_get_open_prds (t.proxy), ==, 0);
  g_assert_cmpuint (prd_dbus_hub1_get_events_in (t.proxy), ==, 0);
  g_assert_cmpuint (prd_dbus_hub1_get_events_out (t.proxy), ==, 0);
  g_assert_cmpuint (prd_dbus_hub1_get_ai_jobs_running (t.proxy), ==, 0);
  g_assert_cmpuint (prd_dbus_hub1_get_ai_jobs_queued (t.proxy), ==, 0);
  {
    GVariant *discovery = prd_dbus_hub1_get_discovery (t.proxy);
    g_autoptr (GUri) uri = g_uri_parse (t.hub->url, G_URI_FLAGS_NONE, NULL);
    const char *state = NULL;
    guint16 port = 0;

    /* On 127.0.0.1 the hub is not announced on the LAN. */
    g_assert_nonnull (discovery);
    g_assert_true (g_variant_lookup (discovery, "state", "&s", &state));
    g_assert_cmpstr (state, ==, "off");
    g_assert_true (g_variant_lookup (discovery, "port", "q", &port));
    g_assert_cmpuint (port, ==, g_uri_get_port (uri));
  }
  {
    g_autoptr (GVariant) sessions = list_sessions ();
    g_autoptr (GVariant) jobs = list_jobs ();

    g_assert_cmpuint (g_variant_n_children (sessions), ==, 0);
    g_assert_cmpuint (g_variant_n_children (jobs), ==, 0);
  }
}

static gboolean
sessions_cond (gpointer data)
{
  return t.sessions_changed >= GPOINTER_TO_UINT (data);
}

static gboolean
connections_cond (gpointer data)
{
  return prd_dbus_hub1_get_connections (t.proxy) == GPOINTER_TO_UINT (data);
}

static gboolean
joined_cond (gpointer data)
{
  return prd_dbus_hub1_get_joined_users (t.proxy) == 1 &&
         prd_dbus_hub1_get_open_prds (t.proxy) == 1;
}

static gboolean
status_cond (gpointer data)
{
  g_autoptr (GVariant) sessions = list_sessions ();
  g_autoptr (GVariant) alice = find_session (sessions, "alice");
  const char *status = NULL;

  return alice != NULL && g_variant_lookup (alice, "status", "&s", &status) &&
         g_str_equal (status, data);
}

static void
test_sessions (void)
{
  g_autofree char *alice_token = prd_test_mint_token (t.auth, "alice", "org_a", PRD_ROLE_EDITOR);
  g_autofree char *bob_token = prd_test_mint_token (t.auth, "bob", "org_b", PRD_ROLE_VIEWER);
  g_autoptr (GVariant) sessions = NULL;
  g_autoptr (GVariant) alice = NULL;
  g_autoptr (GVariant) bob = NULL;
  g_autoptr (JsonNode) ack = NULL;
  g_autofree char *join = NULL;
  g_autofree char *presence = NULL;
  g_autofree const char **prd_ids = NULL;
  gint64 since = 0;
  guint seen;

  t.prd_id = create_prd (alice_token, "Login");
  seen = t.sessions_changed;
  t.alice = prd_test_client_connect (t.hub->url, alice_token);
  t.bob = prd_test_client_connect (t.hub->url, bob_token);
  wait_until (connections_cond, GUINT_TO_POINTER (2), "Connections == 2");
  wait_until (sessions_cond, GUINT_TO_POINTER (seen + 1), "SessionsChanged after connecting");

  join = g_strdup_printf ("{\"prdId\":\"%s\",\"mode\":\"edit\"}", t.prd_id);
  seen = t.sessions_changed;
  ack = prd_test_client_request (t.alice, "join-prd", join);
  prd_test_assert_ok (ack);
  wait_until (joined_cond, NULL, "JoinedUsers == 1 and OpenPrds == 1");
  wait_until (sessions_cond, GUINT_TO_POINTER (seen + 1), "SessionsChanged after joining");

  sessions = list_sessions ();
  g_assert_cmpuint (g_variant_n_children (sessions), ==, 2);
  alice = find_session (sessions, "alice");
  bob = find_session (sessions, "bob");
  g_assert_nonnull (alice);
  g_assert_nonnull (bob);
  g_assert_cmpstr (lookup_string (alice, "namespace"), ==, "/prds");
  g_assert_cmpstr (lookup_string (alice, "name"), ==, "alice");
  g_assert_cmpstr (lookup_string (alice, "organization"), ==, "org_a");
  g_assert_cmpstr (lookup_string (alice, "role"), ==, "editor");
  g_assert_cmpstr (lookup_string (alice, "transport"), ==, "websocket");
  g_assert_cmpstr (lookup_string (alice, "remote-address"), ==, "127.0.0.1");
  g_assert_cmpstr (lookup_string (alice, "prd-id"), ==, t.prd_id);
  g_assert_cmpstr (lookup_string (alice, "mode"), ==, "edit");
  g_assert_cmpstr (lookup_string (alice, "status"), ==, "viewing");
  g_assert_true (g_variant_lookup (alice, "prd-ids", "^a&s", &prd_ids));
  g_assert_cmpuint (g_strv_length ((char **) prd_ids), ==, 1);
  g_assert_cmpstr (prd_ids[0], ==, t.prd_id);
  g_assert_true (g_variant_lookup (alice, "connected-since", "x", &since));
  g_assert_cmpint (since, >=, t.spawned_at);
  g_assert_cmpint (since, <=, g_get_real_time ());
  g_assert_cmpstr (lookup_string (bob, "organization"), ==, "org_b");
  g_assert_cmpstr (lookup_string (bob, "role"), ==, "viewer");
  g_assert_false (g_variant_lookup (bob, "prd-id", "&s", NULL));
  g_assert_false (g_variant_lookup (bob, "mode", "&s", NULL));
  g_assert_cmpstr (lookup_string (alice, "id"), !=, lookup_string (bob, "id"));

  /* A presence change is a session change. */
  seen = t.sessions_changed;
  presence = g_strdup_printf ("{\"prdId\":\"%s\",\"status\":\"editing\"}", t.prd_id);
  g_clear_pointer (&ack, json_node_unref);
  ack = prd_test_client_request (t.alice, "presence-update", presence);
  prd_test_assert_ok (ack);
  wait_until (sessions_cond, GUINT_TO_POINTER (seen + 1), "SessionsChanged after presence");
  wait_until (status_cond, "editing", "status editing");
}

/* ---- a session that starts on polling ------------------------------------------ */

/* A request to the hub's Engine.IO endpoint; its body (200 asserted). */
static char *
engine_request (SoupSession *session, const char *method, const char *query, const char *body)
{
  g_autofree char *url =
      g_strconcat (t.hub->url, "socket.io/?EIO=4&transport=polling", query, NULL);
  g_autoptr (SoupMessage) msg = soup_message_new (method, url);
  g_autoptr (GBytes) reply = NULL;
  g_autoptr (GError) error = NULL;

  if (body != NULL)
    {
      g_autoptr (GBytes) bytes = g_bytes_new (body, strlen (body));

      soup_message_set_request_body_from_bytes (msg, "text/plain;charset=UTF-8", bytes);
    }
  reply = soup_session_send_and_read (session, msg, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (soup_message_get_status (msg), ==, 200);
  return g_strndup (g_bytes_get_data (reply, NULL), g_bytes_get_size (reply));
}

static gboolean
transport_cond (gpointer data)
{
  g_autoptr (GVariant) sessions = list_sessions ();
  g_autoptr (GVariant) carol = find_session (sessions, "carol");
  const char *transport = NULL;

  if (data == NULL)
    return carol == NULL;
  return carol != NULL && g_variant_lookup (carol, "transport", "&s", &transport) &&
         g_str_equal (transport, data);
}

static void
on_ws_message (SoupWebsocketConnection *ws, int type, GBytes *message, gpointer user_data)
{
  GPtrArray *texts = user_data;

  g_ptr_array_add (texts, g_strndup (g_bytes_get_data (message, NULL), g_bytes_get_size (message)));
}

static gboolean
has_text_cond (gpointer data)
{
  GPtrArray **texts_and_want = data;
  GPtrArray *texts = texts_and_want[0];

  for (guint i = 0; i < texts->len; i++)
    if (g_str_equal (g_ptr_array_index (texts, i), (const char *) texts_and_want[1]))
      return TRUE;
  return FALSE;
}

static gboolean
ws_closed_cond (gpointer data)
{
  return soup_websocket_connection_get_state (data) == SOUP_WEBSOCKET_STATE_CLOSED;
}

/* A client that connects over polling and then upgrades (what a stock
 * socket.io-client does) is listed with its transport, and the list is
 * said to have changed when the transport does. */
static void
test_session_upgrade (void)
{
  g_autofree char *token = prd_test_mint_token (t.auth, "carol", "org_a", PRD_ROLE_EDITOR);
  g_autoptr (SoupSession) session = soup_session_new ();
  g_autoptr (SoupWebsocketConnection) ws = NULL;
  g_autoptr (SoupMessage) ws_msg = NULL;
  g_autoptr (GAsyncResult) connected = NULL;
  g_autoptr (GPtrArray) texts = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (JsonNode) open = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *handshake = NULL;
  g_autofree char *sid_query = NULL;
  g_autofree char *connect = NULL;
  g_autofree char *ok = NULL;
  g_autofree char *ws_url = NULL;
  gpointer want_probe[2] = { texts, "3probe" };
  guint seen;

  handshake = engine_request (session, "GET", "", NULL);
  g_assert_true (g_str_has_prefix (handshake, "0{"));
  open = json_from_string (handshake + 1, &error);
  g_assert_no_error (error);
  sid_query = g_strconcat (
      "&sid=", json_object_get_string_member (json_node_get_object (open), "sid"), NULL);
  seen = t.sessions_changed;
  connect = g_strdup_printf ("40/prds,{\"token\":\"%s\"}", token);
  ok = engine_request (session, "POST", sid_query, connect);
  g_assert_cmpstr (ok, ==, "ok");
  wait_until (sessions_cond, GUINT_TO_POINTER (seen + 1), "SessionsChanged after connecting");
  wait_until (transport_cond, "polling", "carol listed on polling");

  /* The upgrade: a WebSocket for the same session, the probe, then "5". */
  ws_url = g_strconcat (t.hub->url, "socket.io/?EIO=4&transport=websocket", sid_query, NULL);
  ws_msg = soup_message_new ("GET", ws_url);
  soup_session_websocket_connect_async (session, ws_msg, NULL, NULL, G_PRIORITY_DEFAULT, NULL,
                                        prd_test_result_cb, &connected);
  prd_test_wait_while (connected == NULL, PRD_TEST_TIMEOUT_MS);
  ws = soup_session_websocket_connect_finish (session, connected, &error);
  g_assert_no_error (error);
  g_signal_connect (ws, "message", G_CALLBACK (on_ws_message), texts);
  soup_websocket_connection_send_text (ws, "2probe");
  wait_until (has_text_cond, want_probe, "the probe's answer");
  seen = t.sessions_changed;
  soup_websocket_connection_send_text (ws, "5");
  wait_until (sessions_cond, GUINT_TO_POINTER (seen + 1), "SessionsChanged after the upgrade");
  wait_until (transport_cond, "websocket", "carol listed on websocket");

  soup_websocket_connection_close (ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
  wait_until (ws_closed_cond, ws, "the WebSocket closed");
  wait_until (transport_cond, NULL, "carol gone from the list");
}

static gboolean
events_cond (gpointer data)
{
  const guint64 *want = data; /* in, out */

  return prd_dbus_hub1_get_events_in (t.proxy) == want[0] &&
         prd_dbus_hub1_get_events_out (t.proxy) == want[1];
}

/* Events all the time for three seconds (under the default rate limit of
 * 100 per 10 s) change the counters some 150 times; PropertiesChanged still
 * comes at most twice a second. */
static void
test_properties_rate (void)
{
  guint64 want[2];
  gint64 start, elapsed;
  guint changes, sent = 0;

  run_for (600);
  want[0] = prd_dbus_hub1_get_events_in (t.proxy);
  want[1] = prd_dbus_hub1_get_events_out (t.proxy);
  t.properties_changed = 0;
  start = g_get_monotonic_time ();
  while (g_get_monotonic_time () - start < 3 * G_USEC_PER_SEC)
    {
      /* Each ping is one event in, and its pong one event out. */
      soup_websocket_connection_send_text (t.bob->ws, "42/prds,[\"ping\"]");
      sent++;
      run_for (40);
    }
  elapsed = g_get_monotonic_time () - start;
  changes = t.properties_changed;
  g_test_message ("%u pings, %u PropertiesChanged in %" G_GINT64_FORMAT " ms", sent, changes,
                  elapsed / 1000);
  g_assert_cmpuint (sent, >, 40);
  g_assert_cmpuint (changes, >=, 3);
  g_assert_cmpuint (changes, <=, 2 * (elapsed / G_USEC_PER_SEC) + 2);
  want[0] += sent;
  want[1] += sent;
  wait_until (events_cond, want, "the event counters");
  for (guint i = 0; i < sent; i++)
    g_free (prd_test_client_take_message (t.bob, "42/prds,[\"pong\""));
}

static char *
prompt (const char *scenario)
{
  g_autofree char *payload =
      g_strdup_printf ("{\"prdId\":\"%s\",\"prompt\":\"scenario:%s go\"}", t.prd_id, scenario);
  g_autoptr (JsonNode) ack = prd_test_client_request (t.alice, "ai-prompt", payload);

  prd_test_assert_ok (ack);
  return g_strdup (json_object_get_string_member (json_node_get_object (ack), "jobId"));
}

static gboolean
jobs_cond (gpointer data)
{
  const guint *want = data;

  return prd_dbus_hub1_get_ai_jobs_running (t.proxy) == want[0] &&
         prd_dbus_hub1_get_ai_jobs_queued (t.proxy) == want[1];
}

static gboolean
job_state_cond (gpointer data)
{
  const char *const *want = data; /* id, state */
  g_autoptr (GVariant) jobs = list_jobs ();
  g_autoptr (GVariant) job = find_job (jobs, want[0]);

  return job != NULL && g_str_equal (lookup_string (job, "state"), want[1]);
}

static gboolean
job_chunks_cond (gpointer data)
{
  g_autoptr (GVariant) jobs = list_jobs ();
  g_autoptr (GVariant) job = find_job (jobs, data);
  guint chunks = 0;

  return job != NULL && g_variant_lookup (job, "chunks", "u", &chunks) && chunks >= 1;
}

/* The last AiJobChanged of @id seen so far, or NULL. */
static GVariant *
last_change (const char *id)
{
  for (guint i = t.job_changes->len; i > 0; i--)
    {
      GVariant *job = g_ptr_array_index (t.job_changes, i - 1);

      if (g_str_equal (lookup_string (job, "id"), id))
        return job;
    }
  return NULL;
}

static gboolean
change_state_cond (gpointer data)
{
  const char *const *want = data; /* id, state */
  GVariant *job = last_change (want[0]);

  return job != NULL && g_str_equal (lookup_string (job, "state"), want[1]);
}

/* Waits for the ai-error of @job_id and returns its code. */
static char *
wait_ai_error (PrdTestClient *client, const char *job_id)
{
  for (;;)
    {
      g_autoptr (JsonNode) payload = prd_test_client_wait_event (client, "ai-error");
      JsonObject *object = json_node_get_object (payload);

      if (g_strcmp0 (json_object_get_string_member_with_default (object, "jobId", ""), job_id) == 0)
        return g_strdup (json_object_get_string_member (
            json_object_get_object_member (object, "error"), "code"));
    }
}

static void
test_ai_jobs (void)
{
  g_autofree char *first = prompt ("stall");
  g_autofree char *second = prompt ("stall");
  g_autofree char *third = prompt ("stall");
  g_autofree char *code = NULL;
  g_autofree char *done = NULL;
  g_autoptr (GVariant) jobs = NULL;
  g_autoptr (GVariant) job = NULL;
  g_autoptr (GError) error = NULL;
  const guint two_one[] = { 2, 1 };
  const guint none[] = { 0, 0 };
  const char *third_cancelled[] = { third, "cancelled" };
  const char *first_cancelled[] = { first, "cancelled" };
  const char *done_complete[] = { NULL, "complete" };
  guint64 tokens = 0, duration = 0;
  gint64 created = 0, started = 0;
  guint chunks = 0;

  /* Two run (the hub's concurrency), one waits. */
  wait_until (jobs_cond, (gpointer) two_one, "AiJobsRunning 2, AiJobsQueued 1");
  wait_until (job_chunks_cond, first, "a streamed piece of the first job");
  jobs = list_jobs ();
  g_assert_cmpuint (g_variant_n_children (jobs), ==, 3);
  job = find_job (jobs, first);
  g_assert_cmpstr (lookup_string (job, "state"), ==, "streaming");
  g_assert_cmpstr (lookup_string (job, "prd-id"), ==, t.prd_id);
  g_assert_cmpstr (lookup_string (job, "organization"), ==, "org_a");
  g_assert_cmpstr (lookup_string (job, "user-id"), ==, "alice");
  g_assert_true (g_variant_lookup (job, "chunks", "u", &chunks));
  g_assert_cmpuint (chunks, ==, 1);
  g_assert_true (g_variant_lookup (job, "created-at", "x", &created));
  g_assert_true (g_variant_lookup (job, "started-at", "x", &started));
  g_assert_cmpint (created, >=, t.spawned_at);
  g_assert_cmpint (started, >=, created - G_USEC_PER_SEC / 100);
  g_assert_cmpint (started, <=, g_get_real_time ());
  g_clear_pointer (&job, g_variant_unref);
  job = find_job (jobs, third);
  g_assert_cmpstr (lookup_string (job, "state"), ==, "queued");
  g_assert_true (g_variant_lookup (job, "started-at", "x", &started));
  g_assert_cmpint (started, ==, 0);
  g_clear_pointer (&job, g_variant_unref);
  /* The signal said so too. */
  g_assert_nonnull (last_change (first));
  g_assert_nonnull (last_change (third));
  g_assert_cmpstr (lookup_string (last_change (third), "state"), ==, "queued");

  /* Cancelling the queued job: its requester hears of it. */
  g_assert_true (prd_dbus_hub1_call_cancel_ai_job_sync (t.proxy, third, NULL, &error));
  g_assert_no_error (error);
  code = wait_ai_error (t.alice, third);
  g_assert_cmpstr (code, ==, "CANCELLED");
  wait_until (change_state_cond, third_cancelled, "AiJobChanged cancelled (queued job)");

  /* And a running one: the room hears of it. */
  g_assert_true (prd_dbus_hub1_call_cancel_ai_job_sync (t.proxy, first, NULL, &error));
  g_assert_no_error (error);
  g_free (code);
  code = wait_ai_error (t.alice, first);
  g_assert_cmpstr (code, ==, "CANCELLED");
  wait_until (change_state_cond, first_cancelled, "AiJobChanged cancelled (running job)");
  wait_until (job_state_cond, first_cancelled, "ListAiJobs shows the job cancelled");
  g_assert_true (prd_dbus_hub1_call_cancel_ai_job_sync (t.proxy, second, NULL, &error));
  g_assert_no_error (error);
  g_free (code);
  code = wait_ai_error (t.alice, second);
  g_assert_cmpstr (code, ==, "CANCELLED");
  wait_until (jobs_cond, (gpointer) none, "no AI job running or queued");

  /* A finished job is gone from the queue: NotFound. */
  g_assert_false (prd_dbus_hub1_call_cancel_ai_job_sync (t.proxy, first, NULL, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_NOT_FOUND);
  {
    g_autofree char *remote = g_dbus_error_get_remote_error (error);

    g_assert_cmpstr (remote, ==, "org.prdtool.Hub1.Error.NotFound");
  }
  g_clear_error (&error);
  g_assert_false (prd_dbus_hub1_call_cancel_ai_job_sync (t.proxy, "job_nope", NULL, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* A job that completes: tokens as the provider counted them, a duration. */
  done = prompt ("stream");
  done_complete[0] = done;
  wait_until (job_state_cond, done_complete, "a complete job");
  g_clear_pointer (&jobs, g_variant_unref);
  jobs = list_jobs ();
  g_assert_cmpuint (g_variant_n_children (jobs), ==, 4);
  job = find_job (jobs, done);
  g_assert_true (g_variant_lookup (job, "tokens", "t", &tokens));
  g_assert_true (g_variant_lookup (job, "duration", "t", &duration));
  g_assert_true (g_variant_lookup (job, "chunks", "u", &chunks));
  g_assert_cmpuint (tokens, >, 0);
  /* The provider's three pieces, or fewer when some arrived together and
   * were merged (chunks counts what went into the PRD). */
  g_assert_cmpuint (chunks, >=, 1);
  g_assert_cmpuint (chunks, <=, 3);
  g_assert_cmpuint (duration, >, 0);
  g_assert_false (g_variant_lookup (job, "error-code", "&s", NULL));
  g_clear_pointer (&job, g_variant_unref);
  job = find_job (jobs, third);
  g_assert_cmpstr (lookup_string (job, "state"), ==, "cancelled");
  g_assert_cmpstr (lookup_string (job, "error-code"), ==, "CANCELLED");
  wait_until (change_state_cond, done_complete, "AiJobChanged complete");
}

static void
test_create_version (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) created = NULL;
  g_autofree char *version = NULL;
  g_autofree char *too_long = g_strnfill (2001, 'x');
  JsonObject *record;

  g_assert_true (prd_dbus_hub1_call_create_version_sync (t.proxy, t.prd_id, "From the admin",
                                                         &version, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (version, ==, "0.2.0");
  /* The room hears of it as of any version. */
  created = prd_test_client_wait_event (t.alice, "version-created");
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (created), "prdId"), ==,
                   t.prd_id);
  record = json_object_get_object_member (json_node_get_object (created), "version");
  g_assert_cmpstr (json_object_get_string_member (record, "version"), ==, "0.2.0");
  g_assert_cmpstr (json_object_get_string_member (record, "changelog"), ==, "From the admin");
  g_assert_cmpstr (
      json_object_get_string_member (json_object_get_object_member (record, "createdBy"), "id"), ==,
      "hub");

  g_assert_false (
      prd_dbus_hub1_call_create_version_sync (t.proxy, "prd_nope", "x", NULL, NULL, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_PRD_NOT_FOUND);
  g_clear_error (&error);
  g_assert_false (
      prd_dbus_hub1_call_create_version_sync (t.proxy, "../etc", "x", NULL, NULL, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_ID);
  g_clear_error (&error);
  g_assert_false (
      prd_dbus_hub1_call_create_version_sync (t.proxy, t.prd_id, "  ", NULL, NULL, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD);
  g_clear_error (&error);
  g_assert_false (
      prd_dbus_hub1_call_create_version_sync (t.proxy, t.prd_id, too_long, NULL, NULL, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD);
}

/* 255 × "a" then "é": 257 bytes, 256 characters. */
static char *
id_ending_in_two_byte_char (void)
{
  g_autofree char *prefix = g_strnfill (255, 'a');

  return g_strconcat (prefix, "é", NULL);
}

/* A NotFound whose message is valid UTF-8 and names @id whole (it is 256
 * characters, the most a message shows), and a hub that logged no
 * critical warning on the way. */
static void
assert_not_found_naming (const GError *error, const char *id)
{
  g_autofree char *log = hub_process_read_stderr (t.hub);

  g_assert_error (error, PRD_ERROR, PRD_ERROR_NOT_FOUND);
  g_assert_true (g_utf8_validate (error->message, -1, NULL));
  g_assert_nonnull (strstr (error->message, id));
  g_assert_null (strstr (log, "CRITICAL"));
}

static gboolean
integration_changed_cond (gpointer data)
{
  return t.integration_changes > 0;
}

/* Jira for @org, set with the command line in the running hub's data
 * folder. */
static void
configure_jira (const char *org, const char *base_url)
{
  g_autofree char *data_dir = g_build_filename (t.tmp_dir, "hub", NULL);
  g_autofree char *base_url_arg = g_strconcat ("baseUrl=", base_url, NULL);
  const char *set[] = { g_getenv ("PRDHUB_BIN"),
                        "integration",
                        "set",
                        "jira",
                        "--data-dir",
                        data_dir,
                        "--org",
                        org,
                        base_url_arg,
                        "deployment=datacenter",
                        "projectKey=PRD",
                        NULL };
  const char *secret[] = { g_getenv ("PRDHUB_BIN"),
                           "integration",
                           "secret",
                           "jira",
                           "token",
                           "--data-dir",
                           data_dir,
                           "--org",
                           org,
                           NULL };
  g_autoptr (GSubprocess) process = NULL;
  g_autoptr (GError) error = NULL;

  process = g_subprocess_newv (set, G_SUBPROCESS_FLAGS_STDOUT_SILENCE, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_wait_check (process, NULL, &error));
  g_assert_no_error (error);
  g_clear_object (&process);
  process = g_subprocess_newv (
      secret, G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_SILENCE, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_communicate_utf8 (process, "pat-value\n", NULL, NULL, NULL, &error));
  g_assert_true (g_subprocess_wait_check (process, NULL, &error));
  g_assert_no_error (error);
}

static void
test_integrations (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) integrations = NULL;
  g_autoptr (GVariant) result = NULL;
  g_autofree char *long_id = id_ending_in_two_byte_char ();

  g_assert_true (prd_dbus_hub1_call_list_integrations_sync (t.proxy, &integrations, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (g_variant_get_type_string (integrations), ==, "aa{sv}");
  g_assert_cmpuint (g_variant_n_children (integrations), ==, 0);
  g_assert_false (
      prd_dbus_hub1_call_test_integration_sync (t.proxy, "org_a", "jira", &result, NULL, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_NOT_FOUND);
  g_assert_nonnull (
      strstr (error->message, "No integration jira is configured for organization org_a"));
  g_clear_error (&error);
  g_assert_false (
      prd_dbus_hub1_call_test_integration_sync (t.proxy, "", "jira", &result, NULL, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD);
  g_clear_error (&error);
  /* Not an organization id (docs/dbus.md lists InvalidId). */
  g_assert_false (
      prd_dbus_hub1_call_test_integration_sync (t.proxy, "org\tA", "jira", &result, NULL, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_ID);
  g_clear_error (&error);
  /* A long service id is cut at a character in the message. */
  g_assert_false (
      prd_dbus_hub1_call_test_integration_sync (t.proxy, "org_a", long_id, &result, NULL, &error));
  assert_not_found_naming (error, long_id);
  g_clear_error (&error);
  /* (An organization id that long is refused as such.) */
  g_assert_false (
      prd_dbus_hub1_call_test_integration_sync (t.proxy, long_id, "jira", &result, NULL, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_ID);
  g_clear_error (&error);

  /* Configured on the command line while the hub runs: Jira on a port where
   * nothing listens. */
  {
    g_autoptr (GVariant) after = NULL;
    g_autoptr (GVariant) entry = NULL;
    const char *status = NULL;

    configure_jira ("org_a", "http://127.0.0.1:1");
    g_assert_true (prd_dbus_hub1_call_list_integrations_sync (t.proxy, &after, NULL, &error));
    g_assert_no_error (error);
    g_assert_cmpuint (g_variant_n_children (after), ==, 1);
    entry = g_variant_get_child_value (after, 0);
    g_assert_cmpstr (lookup_string (entry, "organization"), ==, "org_a");
    g_assert_cmpstr (lookup_string (entry, "service"), ==, "jira");
    g_assert_cmpstr (lookup_string (entry, "status"), ==, "disconnected");

    g_assert_true (
        prd_dbus_hub1_call_test_integration_sync (t.proxy, "org_a", "jira", &result, NULL, &error));
    g_assert_no_error (error);
    g_assert_true (g_variant_lookup (result, "status", "&s", &status));
    g_assert_cmpstr (status, ==, "error");
    g_assert_nonnull (strstr (lookup_string (result, "last-error"), "127.0.0.1:1"));
    g_assert_null (strstr (lookup_string (result, "last-error"), "pat-value"));
    wait_until (integration_changed_cond, NULL, "IntegrationStatusChanged");
  }
}

static void
test_disconnect (void)
{
  g_autoptr (GVariant) sessions = list_sessions ();
  g_autoptr (GVariant) bob = find_session (sessions, "bob");
  g_autoptr (GVariant) after = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) closed = NULL;
  g_autofree char *bob_id = g_strdup (lookup_string (bob, "id"));
  g_autofree char *disconnect = NULL;
  g_autofree char *too_long = g_strnfill (501, 'x');
  g_autofree char *long_id = id_ending_in_two_byte_char ();
  guint seen = t.sessions_changed;

  g_assert_false (prd_dbus_hub1_call_disconnect_session_sync (t.proxy, "nope", "", NULL, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_NOT_FOUND);
  g_clear_error (&error);
  /* An id whose 256th byte starts a two-byte character: the message cuts
   * it at a character, never inside one. */
  g_assert_false (prd_dbus_hub1_call_disconnect_session_sync (t.proxy, long_id, "", NULL, &error));
  assert_not_found_naming (error, long_id);
  g_clear_error (&error);
  g_assert_false (
      prd_dbus_hub1_call_disconnect_session_sync (t.proxy, bob_id, too_long, NULL, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD);
  g_clear_error (&error);
  /* A control character (a forged log line, an escape sequence, C1) is
   * refused and Bob stays; a tab is text. */
  {
    const char *const forged[] = { "Maintenance\nprd-hub-dbus-Message: forged", "a\rb",
                                   "\x1b[31mred",
                                   "a\xc2\x9b"
                                   "b",
                                   "a\x7f" };

    for (guint i = 0; i < G_N_ELEMENTS (forged); i++)
      {
        g_assert_false (
            prd_dbus_hub1_call_disconnect_session_sync (t.proxy, bob_id, forged[i], NULL, &error));
        g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD);
        g_assert_nonnull (strstr (error->message, "control characters"));
        g_clear_error (&error);
      }
  }
  {
    g_autoptr (GVariant) still = list_sessions ();
    g_autoptr (GVariant) bob_still = find_session (still, "bob");

    g_assert_nonnull (bob_still);
  }

  g_assert_true (prd_dbus_hub1_call_disconnect_session_sync (t.proxy, bob_id, "Maintenance\tnow",
                                                             NULL, &error));
  g_assert_no_error (error);
  /* Bob is told why, then disconnected from the namespace. */
  closed = prd_test_client_wait_event (t.bob, "session-closed");
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (closed), "message"), ==,
                   "Maintenance\tnow");
  g_assert_true (json_object_has_member (json_node_get_object (closed), "timestamp"));
  disconnect = prd_test_client_take_message (t.bob, "41/prds");
  g_assert_cmpstr (disconnect, ==, "41/prds,");

  wait_until (sessions_cond, GUINT_TO_POINTER (seen + 1), "SessionsChanged after the disconnect");
  wait_until (connections_cond, GUINT_TO_POINTER (1), "Connections == 1");
  after = list_sessions ();
  g_assert_cmpuint (g_variant_n_children (after), ==, 1);
  g_assert_null (find_session (after, "bob"));
  g_assert_false (prd_dbus_hub1_call_disconnect_session_sync (t.proxy, bob_id, "", NULL, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_NOT_FOUND);
}

/* Without a session bus the hub says so once and serves anyway. */
static void
test_no_session_bus (void)
{
  g_autoptr (HubProcess) hub = hub_spawn ("no-bus", TRUE, NULL);
  g_autoptr (SoupSession) session = soup_session_new ();
  g_autofree char *url = g_strconcat (hub->url, "healthz", NULL);
  g_autoptr (SoupMessage) msg = soup_message_new ("GET", url);
  g_autoptr (GBytes) body = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *log = NULL;

  body = soup_session_send_and_read (session, msg, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (soup_message_get_status (msg), ==, 200);
  /* The message comes once the bus has been looked for, maybe after the
   * hub already answers. */
  for (gint64 deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;;)
    {
      g_free (log);
      log = hub_process_read_stderr (hub);
      if (strstr (log, "No D-Bus session bus") != NULL)
        break;
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      run_for (20);
    }
  run_for (300);
  g_free (log);
  log = hub_process_read_stderr (hub);
  g_assert_cmpuint (count_occurrences (log, "No D-Bus session bus"), ==, 1);
}

/* Runs `gdbus call` on the bus at @address (as uid 65534 when @nobody) and
 * returns what it printed, output and errors; @ok tells whether it
 * succeeded. */
static char *
gdbus_call (const char *address, gboolean nobody, gboolean *ok, const char *method, ...)
{
  g_autoptr (GSubprocessLauncher) launcher =
      g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_MERGE);
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_autoptr (GSubprocess) process = NULL;
  g_autoptr (GError) error = NULL;
  char *out = NULL;
  const char *arg;
  va_list args;

  g_subprocess_launcher_setenv (launcher, "DBUS_SESSION_BUS_ADDRESS", address, TRUE);
  if (nobody)
    {
      g_ptr_array_add (argv, "setpriv");
      g_ptr_array_add (argv, "--reuid=65534");
      g_ptr_array_add (argv, "--regid=65534");
      g_ptr_array_add (argv, "--clear-groups");
    }
  g_ptr_array_add (argv, "gdbus");
  g_ptr_array_add (argv, "call");
  g_ptr_array_add (argv, "--session");
  g_ptr_array_add (argv, "--dest");
  g_ptr_array_add (argv, BUS_NAME);
  g_ptr_array_add (argv, "--object-path");
  g_ptr_array_add (argv, BUS_PATH);
  g_ptr_array_add (argv, "--method");
  g_ptr_array_add (argv, (gpointer) method);
  va_start (args, method);
  while ((arg = va_arg (args, const char *)) != NULL)
    g_ptr_array_add (argv, (gpointer) arg);
  va_end (args);
  g_ptr_array_add (argv, NULL);
  process = g_subprocess_launcher_spawnv (launcher, (const char *const *) argv->pdata, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_communicate_utf8 (process, NULL, NULL, &out, NULL, &error));
  g_assert_no_error (error);
  *ok = g_subprocess_get_if_exited (process) && g_subprocess_get_exit_status (process) == 0;
  return out;
}

/* A caller of another uid gets FORBIDDEN for every call, the methods and
 * reading the properties (org.freedesktop.DBus.Properties.Get and GetAll),
 * while the hub's own user reads them. A session bus admits only its
 * user, so this needs a bus of its own that admits everyone, and root to
 * call as uid 65534 (setpriv). */
static void
test_other_uid (void)
{
  g_autofree char *conf_path = g_build_filename (t.tmp_dir, "otheruid-bus.conf", NULL);
  static const char conf[] =
      "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\" "
      "\"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
      "<busconfig><type>session</type><listen>unix:tmpdir=/tmp</listen>"
      "<auth>EXTERNAL</auth><policy context=\"default\"><allow user=\"*\"/>"
      "<allow send_destination=\"*\"/><allow receive_sender=\"*\"/><allow own=\"*\"/>"
      "</policy></busconfig>\n";
  g_autoptr (GSubprocess) bus = NULL;
  g_autoptr (GDataInputStream) bus_out = NULL;
  g_autoptr (HubProcess) hub = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *address = NULL;
  g_autofree char *saved = g_strdup (g_getenv ("DBUS_SESSION_BUS_ADDRESS"));
  const char *const methods[][3] = {
    { "org.freedesktop.DBus.Properties.GetAll", "org.prdtool.Hub1", NULL },
    { "org.freedesktop.DBus.Properties.Get", "org.prdtool.Hub1", "Version" },
    { "org.prdtool.Hub1.ListSessions", NULL, NULL },
    { "org.prdtool.Hub1.ListIntegrations", NULL, NULL },
  };
  g_autofree char *setpriv = g_find_program_in_path ("setpriv");
  g_autofree char *dbus_daemon = g_find_program_in_path ("dbus-daemon");
  g_autofree char *gdbus = g_find_program_in_path ("gdbus");
  gboolean ok = FALSE;

  if (getuid () != 0 || setpriv == NULL || dbus_daemon == NULL || gdbus == NULL)
    {
      g_test_skip ("needs root, setpriv, dbus-daemon and gdbus to call as another uid");
      return;
    }
  g_assert_true (g_file_set_contents (conf_path, conf, -1, &error));
  g_assert_no_error (error);
  bus = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error, "dbus-daemon", "--nofork",
                          "--print-address=1", "--config-file", conf_path, NULL);
  g_assert_no_error (error);
  bus_out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (bus));
  address = g_data_input_stream_read_line_utf8 (bus_out, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (address);

  g_setenv ("DBUS_SESSION_BUS_ADDRESS", address, TRUE);
  hub = hub_spawn ("other-uid", FALSE, NULL);
  g_setenv ("DBUS_SESSION_BUS_ADDRESS", saved, TRUE);
  /* The hub's own user: served once the hub owns the name. */
  for (gint64 deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;;)
    {
      g_autofree char *out = gdbus_call (address, FALSE, &ok, methods[0][0], methods[0][1], NULL);

      if (ok)
        {
          g_assert_nonnull (strstr (out, "'Version'"));
          break;
        }
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      run_for (50);
    }
  for (guint i = 0; i < G_N_ELEMENTS (methods); i++)
    {
      g_autofree char *out =
          gdbus_call (address, TRUE, &ok, methods[i][0], methods[i][1], methods[i][2], NULL);

      g_test_message ("%s as uid 65534: %s", methods[i][0], out);
      g_assert_false (ok);
      g_assert_nonnull (strstr (out, "org.prdtool.Hub1.Error.Forbidden"));
      g_assert_null (strstr (out, "Version"));
    }
  hub_process_stop (hub);
  g_subprocess_force_exit (bus);
  g_assert_true (g_subprocess_wait (bus, NULL, NULL));
}

/* --no-dbus stays off the bus; a second hub leaves the name to the first. */
static void
test_no_dbus_and_name_taken (void)
{
  g_autoptr (HubProcess) quiet = hub_spawn ("no-dbus", FALSE, "--no-dbus");
  g_autoptr (HubProcess) second = hub_spawn ("second", FALSE, NULL);
  g_autofree char *quiet_log = NULL;
  g_autofree char *second_log = NULL;
  gint64 deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;

  do
    {
      g_free (second_log);
      second_log = hub_process_read_stderr (second);
      if (strstr (second_log, "another process owns") != NULL)
        break;
      g_usleep (20000);
    }
  while (g_get_monotonic_time () < deadline);
  g_assert_nonnull (strstr (second_log, "another process owns org.prdtool.Hub"));
  quiet_log = hub_process_read_stderr (quiet);
  g_assert_null (strstr (quiet_log, "D-Bus"));
  /* The first hub still answers under the name. */
  g_assert_cmpstr (prd_dbus_hub1_get_listen_uri (t.proxy), ==, t.hub->url);
  {
    g_autoptr (GVariant) sessions = list_sessions ();

    g_assert_cmpuint (g_variant_n_children (sessions), ==, 1);
  }
}

/* A Jira whose server takes every request and never answers it. */
static void
on_silent_request (SoupServer *server,
                   SoupServerMessage *msg,
                   const char *path,
                   GHashTable *query,
                   gpointer user_data)
{
  guint *n_requests = user_data;

  (*n_requests)++;
  soup_server_message_pause (msg);
}

static gboolean
nonzero_cond (gpointer data)
{
  return *(guint *) data > 0;
}

static void
on_test_integration (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GError **error = user_data;
  g_autoptr (GVariant) status = NULL;

  if (prd_dbus_hub1_call_test_integration_finish (PRD_DBUS_HUB1 (source), &status, result, error))
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, "the call succeeded");
}

static gboolean
error_set_cond (gpointer data)
{
  return *(GError **) data != NULL;
}

static char *
name_owner (void)
{
  g_autoptr (GDBusConnection) bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, NULL);
  g_autoptr (GVariant) reply = NULL;
  char *owner = NULL;

  reply = g_dbus_connection_call_sync (bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                       "org.freedesktop.DBus", "GetNameOwner",
                                       g_variant_new ("(s)", BUS_NAME), G_VARIANT_TYPE ("(s)"),
                                       G_DBUS_CALL_FLAGS_NONE, -1, NULL, NULL);
  if (reply != NULL)
    g_variant_get (reply, "(s)", &owner);
  return owner;
}

static gboolean
owner_changed_cond (gpointer data)
{
  g_autofree char *owner = name_owner ();

  return owner != NULL && g_strcmp0 (owner, data) != 0;
}

/* A stopping hub answers the TestIntegration under way InternalError and
 * leaves the bus; a second hub waiting for the name takes it over, then
 * leaves it too. */
static void
delete_integration (const char *token, const char *service)
{
  g_autoptr (SoupSession) session = soup_session_new ();
  g_autofree char *url = g_strconcat (t.hub->url, "api/integrations/", service, NULL);
  g_autofree char *auth = g_strconcat ("Bearer ", token, NULL);
  g_autoptr (SoupMessage) msg = soup_message_new ("DELETE", url);
  g_autoptr (GBytes) reply = NULL;
  g_autoptr (GError) error = NULL;

  soup_message_headers_append (soup_message_get_request_headers (msg), "Authorization", auth);
  reply = soup_session_send_and_read (session, msg, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (soup_message_get_status (msg), ==, 200);
}

/* A check whose settings are removed while it runs is cancelled with the
 * service's other calls, and answers the entry as it was: the hub is not
 * stopping. */
static void
test_check_retired (void)
{
  g_autoptr (SoupServer) silent = soup_server_new (NULL, NULL);
  g_autofree char *admin = prd_test_mint_token (t.auth, "carla", "org_c", PRD_ROLE_ADMIN);
  g_autofree char *base_url = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GError) answer = NULL;
  guint n_requests = 0;
  GSList *uris;

  soup_server_add_handler (silent, NULL, on_silent_request, &n_requests, NULL);
  g_assert_true (soup_server_listen_local (silent, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error));
  g_assert_no_error (error);
  uris = soup_server_get_uris (silent);
  base_url = g_uri_to_string (uris->data);
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  configure_jira ("org_c", base_url);

  g_dbus_proxy_call (G_DBUS_PROXY (t.proxy), "TestIntegration",
                     g_variant_new ("(ss)", "org_c", "jira"), G_DBUS_CALL_FLAGS_NONE, G_MAXINT,
                     NULL, on_test_integration, &answer);
  wait_until (nonzero_cond, &n_requests, "the check's request");
  delete_integration (admin, "jira");
  wait_until (error_set_cond, &answer, "the answer of TestIntegration");
  /* on_test_integration() sets this error when the call succeeded. */
  g_assert_error (answer, G_IO_ERROR, G_IO_ERROR_FAILED);
  g_assert_cmpstr (answer->message, ==, "the call succeeded");
  soup_server_disconnect (silent);
}

static void
test_stop (void)
{
  g_autoptr (SoupServer) silent = soup_server_new (NULL, NULL);
  g_autoptr (HubProcess) second = NULL;
  g_autoptr (PrdDbusHub1) second_proxy = NULL;
  g_autoptr (GVariant) sessions = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GError) in_flight = NULL;
  g_autofree char *first_owner = name_owner ();
  g_autofree char *base_url = NULL;
  g_autofree char *log = NULL;
  guint n_requests = 0;
  GSList *uris;

  g_assert_nonnull (first_owner);
  soup_server_add_handler (silent, NULL, on_silent_request, &n_requests, NULL);
  g_assert_true (soup_server_listen_local (silent, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error));
  g_assert_no_error (error);
  uris = soup_server_get_uris (silent);
  base_url = g_uri_to_string (uris->data);
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  configure_jira ("org_b", base_url);

  /* A second hub of the same user queues for the name. */
  second = hub_spawn ("second-in-queue", FALSE, NULL);
  for (gint64 deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;;)
    {
      g_free (log);
      log = hub_process_read_stderr (second);
      if (strstr (log, "another process owns org.prdtool.Hub") != NULL)
        break;
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      run_for (20);
    }

  /* The check waits for the silent server when the hub stops. */
  g_dbus_proxy_call (G_DBUS_PROXY (t.proxy), "TestIntegration",
                     g_variant_new ("(ss)", "org_b", "jira"), G_DBUS_CALL_FLAGS_NONE, G_MAXINT,
                     NULL, on_test_integration, &in_flight);
  wait_until (nonzero_cond, &n_requests, "the check's request");
  g_clear_pointer (&t.alice, prd_test_client_free);
  g_clear_pointer (&t.bob, prd_test_client_free);
  hub_process_stop (t.hub);
  wait_until (error_set_cond, &in_flight, "the answer of TestIntegration");
  g_assert_error (in_flight, PRD_ERROR, PRD_ERROR_INTERNAL);
  g_assert_nonnull (strstr (in_flight->message, "The hub is stopping"));

  /* The second hub owns the name now, and answers under it. */
  wait_until (owner_changed_cond, first_owner, "the second hub to own the name");
  second_proxy = prd_dbus_hub1_proxy_new_for_bus_sync (G_BUS_TYPE_SESSION, G_DBUS_PROXY_FLAGS_NONE,
                                                       BUS_NAME, BUS_PATH, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (prd_dbus_hub1_get_listen_uri (second_proxy), ==, second->url);
  g_assert_true (prd_dbus_hub1_call_list_sessions_sync (second_proxy, &sessions, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (g_variant_n_children (sessions), ==, 0);
  g_free (log);
  log = hub_process_read_stderr (second);
  g_assert_nonnull (strstr (log, "D-Bus: the process that owned org.prdtool.Hub left; this hub's "
                                 "admin interface is on"));

  hub_process_stop (second);
  wait_until (owned_cond, GINT_TO_POINTER (FALSE), "the name to go away");
  soup_server_disconnect (silent);
}

int
main (int argc, char *argv[])
{
  g_autoptr (GTestDBus) bus = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *display = g_strdup (g_getenv ("DISPLAY"));
  int status;

  g_test_init (&argc, &argv, NULL);
  /* Remote errors map to PRD_ERROR once the domain is registered. */
  g_assert_cmpuint (PRD_ERROR, !=, 0);
  if (g_getenv ("PRDHUB_BIN") == NULL)
    {
      g_test_skip ("PRDHUB_BIN is not set");
      return g_test_run ();
    }

  bus = g_test_dbus_new (G_TEST_DBUS_NONE);
  g_test_dbus_up (bus);
  if (display != NULL)
    g_setenv ("DISPLAY", display, TRUE);

  t.tmp_dir = g_dir_make_tmp ("prdhub-dbus-XXXXXX", &error);
  g_assert_no_error (error);
  t.ai = ai_test_server_new (0, &error);
  g_assert_no_error (error);
  {
    g_autoptr (GBytes) secret = g_bytes_new_static (SECRET, strlen (SECRET));

    t.auth = prd_auth_new_hmac (secret, &error);
    g_assert_no_error (error);
  }
  t.job_changes = g_ptr_array_new_with_free_func ((GDestroyNotify) g_variant_unref);
  t.spawned_at = g_get_real_time ();
  t.hub = hub_spawn ("hub", FALSE, NULL);
  wait_until (owned_cond, GINT_TO_POINTER (TRUE), "org.prdtool.Hub on the bus");
  t.proxy = prd_dbus_hub1_proxy_new_for_bus_sync (G_BUS_TYPE_SESSION, G_DBUS_PROXY_FLAGS_NONE,
                                                  BUS_NAME, BUS_PATH, NULL, &error);
  g_assert_no_error (error);
  g_signal_connect (t.proxy, "g-signal", G_CALLBACK (on_g_signal), NULL);
  g_signal_connect (t.proxy, "g-properties-changed", G_CALLBACK (on_properties_changed), NULL);

  g_test_add_func ("/prd/dbus/properties-idle", test_properties_idle);
  g_test_add_func ("/prd/dbus/sessions", test_sessions);
  g_test_add_func ("/prd/dbus/session-upgrade", test_session_upgrade);
  g_test_add_func ("/prd/dbus/properties-rate", test_properties_rate);
  g_test_add_func ("/prd/dbus/ai-jobs", test_ai_jobs);
  g_test_add_func ("/prd/dbus/create-version", test_create_version);
  g_test_add_func ("/prd/dbus/integrations", test_integrations);
  g_test_add_func ("/prd/dbus/disconnect", test_disconnect);
  g_test_add_func ("/prd/dbus/no-session-bus", test_no_session_bus);
  g_test_add_func ("/prd/dbus/no-dbus-and-name-taken", test_no_dbus_and_name_taken);
  g_test_add_func ("/prd/dbus/other-uid", test_other_uid);
  g_test_add_func ("/prd/dbus/check-retired", test_check_retired);
  g_test_add_func ("/prd/dbus/stop", test_stop);
  status = g_test_run ();

  g_clear_pointer (&t.alice, prd_test_client_free);
  g_clear_pointer (&t.bob, prd_test_client_free);
  g_clear_object (&t.proxy);
  g_clear_pointer (&t.hub, hub_process_free);
  g_clear_pointer (&t.ai, ai_test_server_free);
  g_clear_object (&t.auth);
  g_clear_pointer (&t.job_changes, g_ptr_array_unref);
  g_clear_pointer (&t.prd_id, g_free);
  prd_test_remove_tree (t.tmp_dir);
  g_free (t.tmp_dir);
  g_test_dbus_down (bus);
  return status;
}
