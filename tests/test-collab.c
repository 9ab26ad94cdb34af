/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * /prds end to end inside one process: a PrdHub with a PrdSqliteStore on
 * 127.0.0.1:0, driven by minimal Socket.IO clients over SoupSession
 * WebSockets. Checks the durable paths from the hub's side: what an ack
 * promises is in the store, a released room is snapshotted, a restored
 * document is the same.
 */
#include "config.h"

#include <string.h>

#include <glib/gstdio.h>
#include <libsoup/soup.h>
#include <sqlite3.h>

#include "prd-error.h"
#include "prd-hub.h"
#include "prd-hub-room-private.h"
#include "prd-json.h"
#include "prd-hub-config-collab.h"
#include "prd-hub-config-rate-limit.h"
#include "prd-sqlite-store.h"

#include "prd-test-harness.h"
#include "prd-test-text.h"

#define SECRET "collab-test-secret-0123456789abcdef0123"

typedef PrdTestHub Fixture;

/* Opens a WebSocket session and connects to /prds as @user. */
static PrdTestClient *
client_new (Fixture *f, const char *user, const char *org, PrdRole role)
{
  g_autofree char *token = prd_test_mint_token (f->auth, user, org, role);

  return prd_test_client_connect (f->url, token);
}

static char *
create_prd (Fixture *f, const char *org, const char *content)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (PrdStoreInfo) info = NULL;
  g_autoptr (GError) error = NULL;

  prd_hub_create_prd_async (f->store, org, "Collab", "owner", content, NULL, prd_test_result_cb,
                            &result);
  info = prd_hub_create_prd_finish (prd_test_wait_result (&result), &error);
  g_assert_no_error (error);
  g_assert_cmpstr (info->version, ==, "0.1.0");
  return g_strdup (info->id);
}

/* What a fresh replica rebuilt from the store holds. */
static char *
stored_text (Fixture *f, const char *prd_id, gint64 *out_snapshot_seq)
{
  return prd_test_store_text (f->store, prd_id, out_snapshot_seq);
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  prd_test_hub_setup (f, "prd-collab-XXXXXX", SECRET, data);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  prd_test_hub_teardown (f);
}

static gint64
join (PrdTestClient *client, const char *prd_id, const char *mode, JsonNode **out_joined)
{
  g_autofree char *payload = g_strdup_printf ("{\"prdId\":\"%s\",\"mode\":\"%s\"}", prd_id, mode);
  g_autoptr (JsonNode) ack = prd_test_client_request (client, "join-prd", payload);
  g_autoptr (JsonNode) joined = prd_test_client_wait_event (client, "joined-prd");

  prd_test_assert_ok (ack);
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (joined), "prdId"), ==,
                   prd_id);
  if (out_joined != NULL)
    *out_joined = json_node_copy (joined);
  return json_object_get_int_member_with_default (json_node_get_object (ack), "siteId", -1);
}

/* A room goes once its last member has left and its snapshot is written. */
static void
wait_rooms_released (Fixture *f)
{
  PrdHubRoomRegistry *rooms = prd_hub_get_rooms (f->hub);

  while (prd_hub_room_registry_get_n_rooms (rooms) > 0)
    prd_test_wait_signal (rooms, "room-closed", PRD_TEST_TIMEOUT_MS);
}

static void
test_acked_is_stored (Fixture *f, gconstpointer data)
{
  g_autofree char *prd_id = create_prd (f, "org", "base");
  g_autoptr (PrdTestClient) a = client_new (f, "alice", "org", PRD_ROLE_EDITOR);
  g_autoptr (PrdTestClient) b = client_new (f, "bob", "org", PRD_ROLE_EDITOR);
  g_autoptr (JsonNode) joined = NULL;
  g_autofree char *text = NULL;
  gint64 site_a, site_b;

  site_a = join (a, prd_id, "edit", &joined);
  site_b = join (b, prd_id, "edit", NULL);
  g_assert_cmpint (site_a, >=, 0);
  g_assert_cmpint (site_b, >=, 0);
  g_assert_cmpint (site_a, !=, site_b);
  g_assert_cmpstr (
      json_object_get_string_member (
          json_object_get_object_member (json_node_get_object (joined), "initialState"), "content"),
      ==, "base");

  for (int i = 1; i <= 5; i++)
    {
      g_autofree char *payload = NULL;
      g_autoptr (JsonNode) relayed = NULL;
      g_autoptr (GString) vector = g_string_new ("[");
      g_autofree char *stored = NULL;
      g_autofree char *ack_prefix = NULL;
      g_autofree char *ack_text = NULL;
      g_autofree char *expected_ack = NULL;
      g_autofree char *relayed_text = NULL;
      g_autofree char *expected_start = NULL;
      g_autofree char *rewritten = NULL;
      gint64 ack_id;

      for (int s = 0; s <= site_a; s++)
        g_string_append_printf (vector, "%s%d", s > 0 ? "," : "",
                                s == site_a ? i : (s == 0 ? 1 : 0));
      g_string_append_c (vector, ']');
      payload = g_strdup_printf ("{\"prdId\":\"%s\",\"operation\":{\"type\":\"insert\","
                                 "\"position\":4,\"content\":\"%d\",\"timestamp\":1706265030000},"
                                 "\"stateVector\":%s}",
                                 prd_id, i, vector->str);
      /* The ack and the broadcast are written without trees: the ack's text
       * is exactly what the tree path sent, the broadcast's members in
       * their order and its text what prd_json_to_string() makes of it. */
      ack_id = prd_test_client_emit (a, "content-update", payload);
      ack_prefix = g_strdup_printf ("43/prds,%" G_GINT64_FORMAT "[", ack_id);
      ack_text = prd_test_client_take_message (a, ack_prefix);
      expected_ack =
          g_strdup_printf ("%s{\"stateVector\":%s,\"ok\":true}]", ack_prefix, vector->str);
      g_assert_cmpstr (ack_text, ==, expected_ack);
      /* Acked means committed: a replica rebuilt from the store has it. */
      stored = stored_text (f, prd_id, NULL);
      g_assert_nonnull (strchr (stored, '0' + i));
      relayed_text = prd_test_client_take_message (b, "42/prds,[\"content-update\",");
      expected_start = g_strdup_printf (
          "42/prds,[\"content-update\",{\"prdId\":\"%s\",\"userId\":\"alice\",\"userName\":",
          prd_id);
      g_assert_true (g_str_has_prefix (relayed_text, expected_start));
      g_assert_nonnull (strstr (relayed_text, "},\"stateVector\":"));
      {
        g_autoptr (GError) error = NULL;
        g_autoptr (JsonNode) array =
            prd_json_parse (relayed_text + strlen ("42/prds,"), -1, 0, &error);

        g_assert_no_error (error);
        rewritten = prd_json_to_string (array);
        g_assert_cmpstr (relayed_text + strlen ("42/prds,"), ==, rewritten);
        relayed = json_node_copy (json_array_get_element (json_node_get_array (array), 1));
      }
      g_assert_cmpstr (json_object_get_string_member (json_node_get_object (relayed), "userId"), ==,
                       "alice");
    }
  text = stored_text (f, prd_id, NULL);
  g_assert_cmpstr (text, ==, "base54321");
}

static void
test_release_and_restore (Fixture *f, gconstpointer data)
{
  g_autofree char *prd_id = create_prd (f, "org", NULL);
  g_autofree char *text = NULL;
  g_autoptr (JsonNode) joined = NULL;
  gint64 snapshot_seq = 0;
  gint64 site;

  {
    g_autoptr (PrdTestClient) a = client_new (f, "alice", "org", PRD_ROLE_EDITOR);
    g_autofree char *payload = NULL;
    g_autoptr (JsonNode) ack = NULL;

    site = join (a, prd_id, "edit", NULL);
    g_assert_cmpint (site, ==, 0);
    payload = g_strdup_printf ("{\"prdId\":\"%s\",\"operation\":{\"type\":\"insert\","
                               "\"position\":0,\"content\":\"kept\"},\"stateVector\":[1]}",
                               prd_id);
    ack = prd_test_client_request (a, "content-update", payload);
    prd_test_assert_ok (ack);
    g_assert_cmpuint (prd_hub_room_registry_get_n_rooms (prd_hub_get_rooms (f->hub)), ==, 1);
  }
  /* The last client left: the room goes, after a snapshot. */
  wait_rooms_released (f);
  text = stored_text (f, prd_id, &snapshot_seq);
  g_assert_cmpstr (text, ==, "kept");
  g_assert_cmpint (snapshot_seq, ==, 1);

  {
    g_autoptr (PrdTestClient) a = client_new (f, "alice", "org", PRD_ROLE_EDITOR);
    JsonObject *state;

    /* The user's own free site comes back, continuing its count. */
    site = join (a, prd_id, "edit", &joined);
    g_assert_cmpint (site, ==, 0);
    state = json_object_get_object_member (json_node_get_object (joined), "initialState");
    g_assert_cmpstr (json_object_get_string_member (state, "content"), ==, "kept");
    g_assert_cmpint (
        json_array_get_int_element (json_object_get_array_member (state, "stateVector"), 0), ==, 1);
  }
}

/* An update the room never saw (a writer behind its back) is not
 * compacted away by the room's snapshot: the room writes none, and the next
 * load has both. */
static void
test_log_gap (Fixture *f, gconstpointer data)
{
  g_autofree char *prd_id = create_prd (f, "org", NULL);
  g_autofree char *text = NULL;
  gint64 snapshot_seq = -1;

  {
    g_autoptr (PrdTestClient) a = client_new (f, "alice", "org", PRD_ROLE_EDITOR);
    g_autoptr (PrdStoreSite) site = NULL;
    g_autoptr (PrdCrdtDoc) crdt = prd_crdt_doc_new ();
    g_autoptr (PrdCrdtOp) op = NULL;
    g_autoptr (GBytes) encoded = NULL;
    g_autoptr (GError) error = NULL;
    g_autofree char *payload = NULL;
    g_autoptr (JsonNode) ack = NULL;
    const guint32 base[2] = { 0, 0 };

    g_assert_cmpint (join (a, prd_id, "edit", NULL), ==, 0);
    site = prd_test_store_acquire_site (f->store, prd_id, "mallory", NULL, 0, &error);
    g_assert_no_error (error);
    g_assert_cmpint (site->site, ==, 1);
    g_assert_true (
        prd_crdt_doc_apply_local_insert (crdt, 1, base, 2, 0, "behind", -1, 0, &op, &error));
    encoded = prd_crdt_ops_encode (&op, 1);
    g_assert_cmpint (prd_test_store_append (f->store, prd_id, 1, 1, "mallory", encoded, &error), ==,
                     1);
    g_assert_no_error (error);

    g_test_expect_message ("prd-hub-room", G_LOG_LEVEL_WARNING, "*was stored after*");
    payload = g_strdup_printf ("{\"prdId\":\"%s\",\"operation\":{\"type\":\"insert\","
                               "\"position\":0,\"content\":\"kept\"},\"stateVector\":[1]}",
                               prd_id);
    ack = prd_test_client_request (a, "content-update", payload);
    prd_test_assert_ok (ack);
    g_test_assert_expected_messages ();
  }
  wait_rooms_released (f);
  text = stored_text (f, prd_id, &snapshot_seq);
  g_assert_cmpint (snapshot_seq, ==, 0);
  g_assert_nonnull (strstr (text, "kept"));
  g_assert_nonnull (strstr (text, "behind"));
}

/* Inserts @content at 0 as the next operation of @site (its @n-th). */
static void
insert_at_start (PrdTestClient *client, const char *prd_id, const char *content, guint n)
{
  g_autofree char *payload =
      g_strdup_printf ("{\"prdId\":\"%s\",\"operation\":{\"type\":\"insert\",\"position\":0,"
                       "\"content\":\"%s\"},\"stateVector\":[%u]}",
                       prd_id, content, n);
  g_autoptr (JsonNode) ack = prd_test_client_request (client, "content-update", payload);

  prd_test_assert_ok (ack);
}

/* An empty room stays loaded for empty-room-grace: a rejoin finds it as it
 * was, without loading the PRD again; it is the first to go when another
 * PRD needs its place under max-open-rooms. */
static void
test_empty_room_grace (Fixture *f, gconstpointer data)
{
  g_autofree char *first = create_prd (f, "org", NULL);
  g_autofree char *second = create_prd (f, "org", "x");
  PrdHubRoomRegistry *rooms = prd_hub_get_rooms (f->hub);
  g_autofree char *text = NULL;
  gint64 snapshot_seq = 0;
  PrdHubRoom *room;

  {
    g_autoptr (PrdTestClient) a = client_new (f, "alice", "org", PRD_ROLE_EDITOR);

    join (a, first, "edit", NULL);
    insert_at_start (a, first, "kept", 1);
    room = prd_hub_room_registry_lookup (rooms, first);
    g_assert_nonnull (room);
  }
  /* The last member left: the room writes its snapshot... */
  for (guint i = 0; snapshot_seq < 1 && i < 3000; i++)
    {
      g_clear_pointer (&text, g_free);
      prd_test_run_for (20);
      text = stored_text (f, first, &snapshot_seq);
    }
  g_assert_cmpint (snapshot_seq, ==, 1);
  g_assert_cmpstr (text, ==, "kept");
  /* ...and stays loaded. */
  g_assert_cmpuint (prd_hub_room_registry_get_n_rooms (rooms), ==, 1);
  g_assert_true (prd_hub_room_registry_lookup (rooms, first) == room);

  {
    g_autoptr (PrdTestClient) b = client_new (f, "bob", "org", PRD_ROLE_EDITOR);
    g_autoptr (JsonNode) joined = NULL;
    JsonObject *state;

    join (b, first, "edit", &joined);
    g_assert_true (prd_hub_room_registry_lookup (rooms, first) == room);
    state = json_object_get_object_member (json_node_get_object (joined), "initialState");
    g_assert_cmpstr (json_object_get_string_member (state, "content"), ==, "kept");
  }
  for (guint i = 0; !prd_hub_room_is_idle (room) && i < 3000; i++)
    prd_test_run_for (20);
  g_assert_true (prd_hub_room_is_idle (room));

  {
    g_autoptr (PrdTestClient) c = client_new (f, "carol", "org", PRD_ROLE_EDITOR);

    /* max-open-rooms = 1: the idle room makes way. */
    join (c, second, "edit", NULL);
    g_assert_null (prd_hub_room_registry_lookup (rooms, first));
    g_assert_cmpuint (prd_hub_room_registry_get_n_rooms (rooms), ==, 1);
  }
}

/* Reads of PRDs nobody has open build the document on a thread, two at a
 * time, max-queued-loads more waiting; the build is the one the main thread
 * makes. */
static void
test_load_documents (Fixture *f, gconstpointer data)
{
  g_autofree char *prd_id = create_prd (f, "org", "hello world");
  PrdHubRoomRegistry *rooms = prd_hub_get_rooms (f->hub);
  GAsyncResult *results[10] = { NULL };
  g_autofree char *expected = NULL;

  {
    g_autoptr (PrdTestClient) a = client_new (f, "alice", "org", PRD_ROLE_EDITOR);
    g_autofree char *payload =
        g_strdup_printf ("{\"prdId\":\"%s\",\"operation\":{\"type\":\"delete\",\"position\":0,"
                         "\"length\":6},\"stateVector\":[1,1]}",
                         prd_id);
    g_autoptr (JsonNode) ack = NULL;

    join (a, prd_id, "edit", NULL);
    ack = prd_test_client_request (a, "content-update", payload);
    prd_test_assert_ok (ack);
  }
  wait_rooms_released (f);
  expected = stored_text (f, prd_id, NULL);
  g_assert_cmpstr (expected, ==, "world");

  for (guint i = 0; i < G_N_ELEMENTS (results); i++)
    prd_hub_room_registry_load_document_async (rooms, prd_id, "org", NULL, prd_test_result_cb,
                                               &results[i]);
  /* Two building, three waiting; the other five are refused. */
  g_assert_cmpuint (prd_hub_room_registry_get_n_loads (rooms), ==,
                    PRD_HUB_ROOM_REGISTRY_BUILDS_AT_ONCE + 3);
  for (guint i = 0; i < G_N_ELEMENTS (results); i++)
    {
      g_autoptr (PrdDocument) document = NULL;
      g_autoptr (PrdStoreInfo) info = NULL;
      g_autoptr (GError) error = NULL;

      g_autofree char *text = NULL;
      g_autoptr (GArray) vector = NULL;

      document = prd_hub_room_registry_load_document_finish (
          rooms, prd_test_wait_result (&results[i]), &info, &text, &vector, &error);
      g_clear_object (&results[i]);
      if (i < PRD_HUB_ROOM_REGISTRY_BUILDS_AT_ONCE + 3)
        {
          g_autofree char *built = NULL;

          g_assert_no_error (error);
          g_assert_cmpstr (info->id, ==, prd_id);
          g_assert_cmpstr (text, ==, expected);
          built = prd_crdt_doc_get_text (prd_document_get_crdt (document));
          g_assert_cmpstr (built, ==, expected);
          g_assert_cmpuint (vector->len, ==, 2);
        }
      else
        {
          g_assert_error (error, PRD_ERROR, PRD_ERROR_RATE_LIMITED);
          g_assert_nonnull (strstr (error->message, "max-queued-loads"));
          g_assert_null (document);
        }
    }
  g_assert_cmpuint (prd_hub_room_registry_get_n_loads (rooms), ==, 0);

  /* Another organization's PRD is not found, nor built. */
  {
    g_autoptr (PrdDocument) document = NULL;
    g_autoptr (GError) error = NULL;

    prd_hub_room_registry_load_document_async (rooms, prd_id, "other-org", NULL, prd_test_result_cb,
                                               &results[0]);
    document = prd_hub_room_registry_load_document_finish (
        rooms, prd_test_wait_result (&results[0]), NULL, NULL, NULL, &error);
    g_clear_object (&results[0]);
    g_assert_error (error, PRD_ERROR, PRD_ERROR_PRD_NOT_FOUND);
    g_assert_null (document);
  }
}

static void
test_refusals (Fixture *f, gconstpointer data)
{
  g_autofree char *prd_id = create_prd (f, "org", "x");
  g_autoptr (PrdTestClient) viewer = client_new (f, "vic", "org", PRD_ROLE_VIEWER);
  g_autoptr (PrdTestClient) outsider = client_new (f, "eve", "other-org", PRD_ROLE_ADMIN);
  g_autofree char *edit = g_strdup_printf ("{\"prdId\":\"%s\",\"mode\":\"edit\"}", prd_id);
  g_autofree char *update =
      g_strdup_printf ("{\"prdId\":\"%s\",\"operation\":{\"type\":\"insert\",\"position\":0,"
                       "\"content\":\"y\"},\"stateVector\":[1,1]}",
                       prd_id);
  g_autoptr (JsonNode) ack1 = prd_test_client_request (viewer, "join-prd", edit);
  g_autoptr (JsonNode) ack2 = NULL;
  g_autoptr (JsonNode) ack3 = NULL;
  g_autoptr (JsonNode) error_event = NULL;
  g_autoptr (JsonNode) join_error = NULL;
  g_autofree char *text = NULL;

  g_assert_cmpstr (prd_test_ack_error_code (ack1), ==, "FORBIDDEN");
  join_error = prd_test_client_wait_event (viewer, "error");
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (join_error), "event"), ==,
                   "join-prd");
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (join_error), "code"), ==,
                   "FORBIDDEN");
  join (viewer, prd_id, "view", NULL);
  ack2 = prd_test_client_request (viewer, "content-update", update);
  g_assert_cmpstr (prd_test_ack_error_code (ack2), ==, "FORBIDDEN");
  error_event = prd_test_client_wait_event (viewer, "error");
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (error_event), "event"), ==,
                   "content-update");

  ack3 = prd_test_client_request (outsider, "join-prd", edit);
  g_assert_cmpstr (prd_test_ack_error_code (ack3), ==, "PRD_NOT_FOUND");
  text = stored_text (f, prd_id, NULL);
  g_assert_cmpstr (text, ==, "x");
}

static char *
insert_payload (const char *prd_id, int site, int seq, const char *text)
{
  g_autoptr (GString) vector = g_string_new ("[");

  for (int s = 0; s <= site; s++)
    g_string_append_printf (vector, "%s%d", s > 0 ? "," : "", s == site ? seq : 0);
  g_string_append_c (vector, ']');
  return g_strdup_printf ("{\"prdId\":\"%s\",\"operation\":{\"type\":\"insert\","
                          "\"position\":0,\"content\":\"%s\"},\"stateVector\":%s}",
                          prd_id, text, vector->str);
}

/* With snapshot-every=2 the log is compacted behind snapshots while the room
 * lives; sync from an empty vector is still served from the history. */
static void
test_snapshots_and_sync (Fixture *f, gconstpointer data)
{
  g_autofree char *prd_id = create_prd (f, "org", NULL);
  g_autoptr (PrdTestClient) a = client_new (f, "alice", "org", PRD_ROLE_EDITOR);
  g_autofree char *sync = g_strdup_printf ("{\"prdId\":\"%s\",\"stateVector\":[]}", prd_id);
  g_autoptr (JsonNode) ack = NULL;
  g_autoptr (JsonNode) response = NULL;
  g_autofree char *text = NULL;
  gint64 snapshot_seq = 0;
  gint64 site = join (a, prd_id, "edit", NULL);

  for (int i = 1; i <= 5; i++)
    {
      g_autofree char *payload = insert_payload (prd_id, (int) site, i, "ab");
      g_autoptr (JsonNode) op_ack = prd_test_client_request (a, "content-update", payload);

      prd_test_assert_ok (op_ack);
    }
  /* Snapshots are written after commits, asynchronously: wait for one. */
  while (snapshot_seq < 4)
    {
      g_clear_pointer (&text, g_free);
      text = stored_text (f, prd_id, &snapshot_seq);
    }
  g_assert_cmpstr (text, ==, "ababababab");

  ack = prd_test_client_request (a, "sync-request", sync);
  prd_test_assert_ok (ack);
  response = prd_test_client_wait_event (a, "sync-response");
  g_assert_false (json_object_get_boolean_member (json_node_get_object (response), "full"));
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (
                        json_node_get_object (response), "missingUpdates")),
                    ==, 5);
}

static char *
joined_state_text (JsonNode *joined)
{
  JsonObject *state = json_object_get_object_member (json_node_get_object (joined), "initialState");
  const char *encoded = json_object_get_string_member (state, "encodedState");
  g_autofree guchar *bytes = NULL;
  g_autoptr (PrdCrdtDoc) doc = NULL;
  g_autoptr (GError) error = NULL;
  gsize size;

  bytes = g_base64_decode (encoded, &size);
  doc = prd_crdt_doc_decode_state (bytes, size, &error);
  g_assert_no_error (error);
  return prd_crdt_doc_get_text (doc);
}

/* Joins with nothing integrated in between share one encoded state; an
 * edit makes the next join's state new. */
static void
test_joined_encoded_state (Fixture *f, gconstpointer data)
{
  g_autofree char *prd_id = create_prd (f, "org", "base");
  g_autoptr (PrdTestClient) a = client_new (f, "alice", "org", PRD_ROLE_EDITOR);
  g_autoptr (PrdTestClient) b = client_new (f, "bob", "org", PRD_ROLE_EDITOR);
  g_autoptr (PrdTestClient) c = client_new (f, "carol", "org", PRD_ROLE_EDITOR);
  g_autoptr (JsonNode) joined_a = NULL;
  g_autoptr (JsonNode) joined_b = NULL;
  g_autoptr (JsonNode) joined_c = NULL;
  g_autoptr (JsonNode) ack = NULL;
  g_autofree char *payload = NULL;
  g_autofree char *text_a = NULL;
  g_autofree char *text_b = NULL;
  g_autofree char *text_c = NULL;
  g_autofree char *stored = NULL;
  gint64 site = join (a, prd_id, "edit", &joined_a);

  join (b, prd_id, "edit", &joined_b);
  text_a = joined_state_text (joined_a);
  text_b = joined_state_text (joined_b);
  g_assert_cmpstr (text_a, ==, "base");
  g_assert_cmpstr (text_b, ==, "base");

  payload = insert_payload (prd_id, (int) site, 1, "new ");
  ack = prd_test_client_request (a, "content-update", payload);
  prd_test_assert_ok (ack);
  join (c, prd_id, "edit", &joined_c);
  text_c = joined_state_text (joined_c);
  stored = stored_text (f, prd_id, NULL);
  g_assert_cmpuint (strlen (stored), ==, strlen ("new base"));
  g_assert_cmpstr (text_c, ==, stored);

  /* An empty PRD has an empty state vector: the second join compares two
   * of them (UBSan once caught a memcmp() given their NULL data). */
  {
    g_autofree char *empty_id = create_prd (f, "org", NULL);
    g_autoptr (JsonNode) first = NULL;
    g_autoptr (JsonNode) second = NULL;
    g_autofree char *first_text = NULL;
    g_autofree char *second_text = NULL;

    join (a, empty_id, "edit", &first);
    join (b, empty_id, "edit", &second);
    first_text = joined_state_text (first);
    second_text = joined_state_text (second);
    g_assert_cmpstr (first_text, ==, "");
    g_assert_cmpstr (second_text, ==, "");
  }
}

/* With snapshot-every=2, a large PRD is snapshotted only once the
 * operations since its last snapshot add up to a quarter of that
 * snapshot's size: small edits to it do not each pay for packing it. */
static void
test_snapshots_by_size (Fixture *f, gconstpointer data)
{
  g_autofree char *prd_id = create_prd (f, "org", NULL);
  g_autoptr (PrdTestClient) a = client_new (f, "alice", "org", PRD_ROLE_EDITOR);
  g_autofree char *big = g_strnfill (8000, 'b');
  g_autofree char *bigger = g_strnfill (4000, 'c');
  gint64 snapshot_seq = 0;
  gint64 site = join (a, prd_id, "edit", NULL);

  for (int i = 1; i <= 13; i++)
    {
      const char *text = i == 1 ? big : i == 13 ? bigger : "s";
      g_autofree char *payload = insert_payload (prd_id, (int) site, i, text);
      g_autoptr (JsonNode) ack = prd_test_client_request (a, "content-update", payload);

      prd_test_assert_ok (ack);
      /* The first snapshot (the size is not known before it) comes after
       * two operations, as snapshot-every says; wait for it. */
      while (i == 2 && snapshot_seq < 2)
        g_free (stored_text (f, prd_id, &snapshot_seq));
      g_assert_cmpint (snapshot_seq, ==, i < 2 ? 0 : 2);
    }
  /* The ten small edits after it were not worth one (every other one was,
   * by count); the 4,000-byte insert brought the log past a quarter. */
  while (snapshot_seq != 13)
    {
      g_free (stored_text (f, prd_id, &snapshot_seq));
      g_assert_true (snapshot_seq == 2 || snapshot_seq == 13);
    }
}

/* A store that refuses an append: the sender learns why, the room is closed
 * for everyone (its memory would be ahead of the store), and nothing of it
 * reaches anyone. */
static void
test_storage_failure (Fixture *f, gconstpointer data)
{
  g_autofree char *prd_id = create_prd (f, "org", "x");
  g_autoptr (PrdTestClient) a = client_new (f, "alice", "org", PRD_ROLE_EDITOR);
  g_autoptr (PrdTestClient) b = client_new (f, "bob", "org", PRD_ROLE_EDITOR);
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) ack = NULL;
  g_autoptr (JsonNode) closed = NULL;
  g_autoptr (JsonNode) again = NULL;
  g_autofree char *payload = NULL;
  gint64 site = join (a, prd_id, "edit", NULL);

  join (b, prd_id, "edit", NULL);
  prd_store_delete_async (f->store, prd_id, NULL, prd_test_result_cb, &result);
  g_assert_true (prd_store_delete_finish (f->store, prd_test_wait_result (&result), &error));
  g_assert_no_error (error);

  payload = insert_payload (prd_id, (int) site, 1, "lost");
  g_test_expect_message ("prd-hub-room", G_LOG_LEVEL_WARNING, "Closing prd_*");
  ack = prd_test_client_request (a, "content-update", payload);
  g_assert_nonnull (json_object_get_object_member (json_node_get_object (ack), "error"));
  closed = prd_test_client_wait_event (b, "error");
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (closed), "code"), ==,
                   "STORAGE_ERROR");
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (closed), "prdId"), ==,
                   prd_id);
  g_test_assert_expected_messages ();
  g_assert_cmpuint (prd_hub_room_registry_get_n_rooms (prd_hub_get_rooms (f->hub)), ==, 0);

  again = prd_test_client_request (a, "content-update", payload);
  g_assert_cmpstr (prd_test_ack_error_code (again), ==, "NOT_JOINED");
  while (!g_queue_is_empty (&b->messages))
    {
      g_autofree char *text = g_queue_pop_head (&b->messages);

      g_assert_null (strstr (text, "content-update"));
    }
}

typedef struct
{
  Fixture *f;
  char *prd_id;
  gboolean done;
} DeleteClose;

/* What prd-hub.c's prd-deleted handler does first, in the store's callback
 * of the deletion: closes the room before the callbacks of the requests
 * queued after the deletion run. */
static void
on_deleted_close (GObject *source, GAsyncResult *result, gpointer user_data)
{
  DeleteClose *dc = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) payload = json_node_new (JSON_NODE_OBJECT);

  g_assert_true (prd_store_delete_finish (PRD_STORE (source), result, &error));
  g_assert_no_error (error);
  json_node_take_object (payload, json_object_new ());
  prd_hub_room_registry_close (prd_hub_get_rooms (dc->f->hub), dc->prd_id, "prd-deleted", payload);
  dc->done = TRUE;
}

/* A join-prd whose site is being acquired when the PRD is deleted (the
 * acquisition queued in the store behind the deletion, the room closed
 * before it comes back) is answered PRD_NOT_FOUND, not left without an
 * answer. */
static void
test_join_while_deleted (Fixture *f, gconstpointer data)
{
  g_autofree char *prd_id = create_prd (f, "org", "x");
  g_autofree char *path = g_build_filename (f->tmp_dir, "prdhub.db", NULL);
  g_autoptr (PrdTestClient) a = client_new (f, "alice", "org", PRD_ROLE_EDITOR);
  g_autoptr (PrdTestClient) b = client_new (f, "bob", "org", PRD_ROLE_EDITOR);
  g_autofree char *payload = g_strdup_printf ("{\"prdId\":\"%s\",\"mode\":\"edit\"}", prd_id);
  g_autoptr (JsonNode) probe = NULL;
  g_autoptr (JsonNode) ack = NULL;
  DeleteClose dc = { f, prd_id, FALSE };
  sqlite3 *db = NULL;
  gint64 id;

  /* The room is loaded: an edit join goes straight to the acquisition. */
  join (a, prd_id, "view", NULL);

  /* Held by a second writer, the store runs nothing until released: the
   * deletion first, then b's acquisition. */
  g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (db, "BEGIN IMMEDIATE", NULL, NULL, NULL), ==, SQLITE_OK);
  prd_store_delete_async (f->store, prd_id, NULL, on_deleted_close, &dc);
  id = prd_test_client_emit (b, "join-prd", payload);
  /* Answered at once, after b's join-prd was handled (one connection's
   * events are handled in order). */
  probe = prd_test_client_request (b, "join-prd", "{}");
  g_assert_cmpstr (prd_test_ack_error_code (probe), ==, "INVALID_PAYLOAD");
  g_assert_false (dc.done);
  g_assert_cmpint (sqlite3_exec (db, "COMMIT", NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (db);

  ack = prd_test_client_wait_ack (b, id);
  g_assert_true (dc.done);
  g_assert_cmpstr (prd_test_ack_error_code (ack), ==, "PRD_NOT_FOUND");
}

static void
exec_sql (Fixture *f, const char *sql)
{
  g_autofree char *path = g_build_filename (f->tmp_dir, "prdhub.db", NULL);
  sqlite3 *db = NULL;

  g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
  sqlite3_busy_timeout (db, 10000);
  g_assert_cmpint (sqlite3_exec (db, sql, NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (db);
}

/* A room closed after a failed write retires its PRD's sites: the
 * operations in flight were lost after joins may have been handed them, so
 * no site goes on numbering new ones like them. The next joins get new
 * sites, the client that wrote with the old one included. */
static void
test_storage_failure_retires_sites (Fixture *f, gconstpointer data)
{
  g_autofree char *prd_id = create_prd (f, "org", "x");
  g_autoptr (PrdTestClient) a = client_new (f, "alice", "org", PRD_ROLE_EDITOR);
  g_autoptr (PrdTestClient) b = client_new (f, "alice", "org", PRD_ROLE_EDITOR);
  g_autoptr (JsonNode) ack = NULL;
  g_autoptr (JsonNode) rejoined = NULL;
  g_autoptr (JsonNode) joined = NULL;
  g_autofree char *payload = NULL;
  g_autofree char *rejoin = NULL;
  gint64 site = join (a, prd_id, "edit", NULL);
  gint64 site_b;

  exec_sql (f, "CREATE TRIGGER refuse_appends BEFORE INSERT ON prd_updates"
               " BEGIN SELECT RAISE (ABORT, 'refused by the test'); END;");
  payload = insert_payload (prd_id, (int) site, 1, "lost");
  g_test_expect_message ("prd-hub-room-registry", G_LOG_LEVEL_WARNING,
                         "Cannot store edits: *refused by the test*");
  g_test_expect_message ("prd-hub-room", G_LOG_LEVEL_WARNING, "Closing prd_*");
  ack = prd_test_client_request (a, "content-update", payload);
  g_assert_cmpstr (prd_test_ack_error_code (ack), ==, "STORAGE_ERROR");
  wait_rooms_released (f);
  g_test_assert_expected_messages ();
  exec_sql (f, "DROP TRIGGER refuse_appends;");

  rejoin = g_strdup_printf ("{\"prdId\":\"%s\",\"mode\":\"edit\",\"siteId\":%" G_GINT64_FORMAT
                            ",\"stateVector\":[1,1],\"replicaId\":\"replica-a\"}",
                            prd_id, site);
  g_clear_pointer (&ack, json_node_unref);
  ack = prd_test_client_request (a, "join-prd", rejoin);
  prd_test_assert_ok (ack);
  rejoined = prd_test_client_wait_event (a, "joined-prd");
  g_assert_cmpint (json_object_get_int_member (json_node_get_object (ack), "siteId"), >, site);
  g_assert_cmpint (json_object_get_int_member (json_object_get_object_member (
                                                   json_node_get_object (rejoined), "siteConflict"),
                                               "previousSiteId"),
                   ==, site);

  /* Another tab of the same user, with no state: not the old site either. */
  site_b = join (b, prd_id, "edit", &joined);
  g_assert_cmpint (site_b, >, site);
  g_assert_cmpint (site_b, !=, json_object_get_int_member (json_node_get_object (ack), "siteId"));
}

static void
on_committed_base (PrdHubRoomRegistry *registry,
                   PrdHubRoom *room,
                   gpointer op,
                   GArray *base,
                   guint client_position,
                   const char *user_id,
                   const char *user_name,
                   gpointer user_data)
{
  int *out_len = user_data;

  *out_len = base != NULL ? (int) base->len : -1;
}

/* A content-update whose stateVector is padded with zeros to the longest a
 * vector may be (a missing entry is 0) is taken, and its base vector, which
 * the room and the conflict window keep per operation, is bounded by the
 * document's sites, not by the padding: read without a tree and with one. A
 * nonzero entry for a site the document does not have is refused. */
static void
test_padded_vector (Fixture *f, gconstpointer data)
{
  g_autofree char *prd_id = create_prd (f, "org", NULL);
  g_autoptr (PrdTestClient) a = client_new (f, "alice", "org", PRD_ROLE_EDITOR);
  PrdHubRoomRegistry *rooms = prd_hub_get_rooms (f->hub);
  gint64 site = join (a, prd_id, "edit", NULL);
  int base_len = -2;
  gulong handler;

  g_assert_cmpint (site, >=, 0);
  handler =
      g_signal_connect (rooms, "operation-committed", G_CALLBACK (on_committed_base), &base_len);
  for (int seq = 1; seq <= 3; seq++)
    {
      g_autoptr (GString) vector = g_string_new ("[");
      g_autofree char *payload = NULL;
      g_autoptr (JsonNode) ack = NULL;

      for (int s = 0; s < PRD_CRDT_MAX_SITES; s++)
        g_string_append_printf (vector, "%s%d", s > 0 ? "," : "",
                                s == site ? seq : (seq == 3 && s == 60000 ? 1 : 0));
      g_string_append_c (vector, ']');
      /* An escaped member name is read through the tree (the second). */
      payload = g_strdup_printf ("{\"prdId\":\"%s\",%s\"operation\":{\"type\":\"insert\","
                                 "\"position\":0,\"content\":\"x\"},\"stateVector\":%s}",
                                 prd_id, seq == 2 ? "\"\\u0078\":1," : "", vector->str);
      base_len = -2;
      ack = prd_test_client_request (a, "content-update", payload);
      if (seq == 3)
        {
          g_assert_cmpstr (prd_test_ack_error_code (ack), ==, "INVALID_OPERATION");
          g_assert_cmpint (base_len, ==, -2);
          continue;
        }
      prd_test_assert_ok (ack);
      g_assert_cmpint (base_len, ==, site + 1);
    }
  g_signal_handler_disconnect (rooms, handler);
}

static void
test_config (void)
{
  const char *bad[] = {
    "[collab]\nbatch-threshold=-1\n",
    "[collab]\nbatch-threshold=1000001\n",
    "[collab]\nbatch-interval=4\n",
    "[collab]\nbatch-interval=5001\n",
    "[collab]\nmax-operation-size=0\n",
    "[collab]\nmax-operation-size=4194305\n",
    "[collab]\nsnapshot-every=0\n",
    "[collab]\nsnapshot-every=many\n",
    "[collab]\nbatch-size=3\n",
    "[collab]\nmax-document-size=0\n",
    "[collab]\nmax-document-size=16777217\n",
    "[collab]\nmax-sync-operations=0\n",
    "[collab]\nmax-sync-operations=1000001\n",
    "[collab]\nhistory-ops-per-event=0\n",
    "[collab]\ninsert-units-per-event=0\n",
  };
  g_autoptr (PrdHubConfig) defaults = prd_hub_config_new ();
  g_autoptr (PrdHubConfig) config = prd_hub_config_new ();
  g_autoptr (GError) error = NULL;

  g_assert_cmpuint (prd_hub_config_get_collab (defaults)->batch_threshold, ==, 50);
  g_assert_cmpuint (prd_hub_config_get_collab (defaults)->batch_interval, ==, 50);
  g_assert_cmpuint (prd_hub_config_get_collab (defaults)->max_operation_size, ==, 65536);
  g_assert_cmpuint (prd_hub_config_get_collab (defaults)->snapshot_every, ==, 500);
  {
    const PrdRateLimit *limit =
        prd_hub_rate_limit_config_lookup (prd_hub_config_get_rate_limits (defaults), "collab");

    g_assert_nonnull (limit);
    g_assert_cmpuint (limit->limit, ==, 1200);
    g_assert_cmpuint (limit->window_seconds, ==, 10);
    g_assert_cmpstr (g_hash_table_lookup (prd_hub_config_get_rate_limits (defaults)->event_classes,
                                          "content-update"),
                     ==, "collab");
    g_assert_cmpstr (g_hash_table_lookup (prd_hub_config_get_rate_limits (defaults)->event_classes,
                                          "presence-update"),
                     ==, "collab");
    /* a sync-response may be the whole state: a class of its own */
    limit = prd_hub_rate_limit_config_lookup (prd_hub_config_get_rate_limits (defaults), "sync");
    g_assert_nonnull (limit);
    g_assert_cmpuint (limit->limit, ==, 30);
    g_assert_cmpstr (g_hash_table_lookup (prd_hub_config_get_rate_limits (defaults)->event_classes,
                                          "sync-request"),
                     ==, "sync");
  }
  g_assert_cmpuint (prd_hub_config_get_collab (defaults)->max_document_size, ==, 1048576);
  g_assert_cmpuint (prd_hub_config_get_collab (defaults)->max_sync_ops, ==, 1000);
  g_assert_cmpuint (prd_hub_config_get_collab (defaults)->history_ops, ==, 10000);
  g_assert_cmpuint (prd_hub_config_get_collab (defaults)->insert_units, ==, 4096);

  g_assert_true (prd_hub_config_load_data (config,
                                           "[collab]\nbatch-threshold=0\nbatch-interval=5000\n"
                                           "max-operation-size=4194304\nsnapshot-every=1\n",
                                           -1, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (prd_hub_config_get_collab (config)->batch_threshold, ==, 0);
  g_assert_cmpuint (prd_hub_config_get_collab (config)->batch_interval, ==, 5000);
  g_assert_cmpuint (prd_hub_config_get_collab (config)->max_operation_size, ==, 4194304);
  g_assert_cmpuint (prd_hub_config_get_collab (config)->snapshot_every, ==, 1);

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (PrdHubConfig) c = prd_hub_config_new ();
      g_autoptr (GError) local_error = NULL;

      g_assert_false (prd_hub_config_load_data (c, bad[i], -1, &local_error));
      g_assert_error (local_error, PRD_ERROR, PRD_ERROR_CONFIG);
      g_assert_nonnull (strstr (local_error->message, "collab"));
    }
}

/* The content-update the room writes directly is the text of the tree it
 * used to build, for the operations of a document edited with awkward text
 * by users with awkward names, and with every field at its extremes. */
static void
test_content_update_text (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (g_test_rand_int ());
  g_autoptr (PrdCrdtDoc) doc = prd_crdt_doc_new ();
  guint n_checked = 0;

  for (guint i = 0; i < 3000; i++)
    {
      g_autoptr (GArray) v = prd_crdt_doc_get_state_vector (doc);
      guint32 site = (guint32) g_rand_int_range (rand, 0, 4);
      guint32 len = prd_crdt_doc_get_length (doc);
      guint32 pos = (guint32) g_rand_int_range (rand, 0, (gint32) len + 1);
      gint64 timestamp = i % 7 == 0 ? G_MAXINT64 - i : 1706265030000 + i;
      g_autoptr (PrdCrdtOp) op = NULL;
      g_autoptr (GError) error = NULL;
      g_autofree char *user_id = prd_test_random_text (rand, 6);
      g_autofree char *user_name = prd_test_random_text (rand, 12);
      g_autoptr (GArray) after = NULL;
      g_autoptr (JsonNode) tree = NULL;
      g_autofree char *expected = NULL;
      g_autoptr (GString) direct = g_string_new (NULL);

      if (len > 0 && pos < len && g_rand_int_range (rand, 0, 3) == 0)
        prd_crdt_doc_apply_local_delete (doc, site, (guint32 *) (void *) v->data, v->len, pos,
                                         MIN (len - pos, (guint32) g_rand_int_range (rand, 1, 30)),
                                         timestamp, &op, &error);
      else
        {
          g_autofree char *text = prd_test_random_text (rand, i % 50 == 0 ? 500 : 8);

          prd_crdt_doc_apply_local_insert (doc, site, (guint32 *) (void *) v->data, v->len, pos,
                                           text, -1, timestamp, &op, &error);
        }
      if (op == NULL) /* a position inside a surrogate pair */
        {
          g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION);
          continue;
        }
      after = prd_crdt_doc_get_state_vector (doc);
      if (i % 11 == 0) /* ids and clocks at their extremes */
        {
          op->site = G_MAXUINT32;
          op->seq = G_MAXUINT32 - 1;
          op->position = G_MAXUINT32;
          g_array_index (after, guint32, 0) = G_MAXUINT32;
        }
      tree = prd_hub_build_content_update ("prd_0123abc", user_id, i % 13 == 0 ? NULL : user_name,
                                           op, after);
      expected = prd_json_to_string (tree);
      prd_hub_write_content_update (direct, "prd_0123abc", user_id, i % 13 == 0 ? NULL : user_name,
                                    op, after);
      g_assert_cmpstr (direct->str, ==, expected);
      n_checked++;
    }
  g_assert_cmpuint (n_checked, >, 1500);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/prd/collab/config", test_config);
  g_test_add_func ("/prd/collab/content-update-text", test_content_update_text);
  g_test_add ("/prd/collab/acked-is-stored", Fixture, NULL, fixture_setup, test_acked_is_stored,
              fixture_teardown);
  g_test_add ("/prd/collab/release-and-restore", Fixture, "[collab]\nempty-room-grace=1\n",
              fixture_setup, test_release_and_restore, fixture_teardown);
  g_test_add ("/prd/collab/empty-room-grace", Fixture,
              "[collab]\nempty-room-grace=3600\nmax-open-rooms=1\n", fixture_setup,
              test_empty_room_grace, fixture_teardown);
  g_test_add ("/prd/collab/load-documents", Fixture,
              "[collab]\nempty-room-grace=0\nmax-queued-loads=3\n", fixture_setup,
              test_load_documents, fixture_teardown);
  g_test_add ("/prd/collab/snapshots-and-sync", Fixture, "[collab]\nsnapshot-every=2\n",
              fixture_setup, test_snapshots_and_sync, fixture_teardown);
  g_test_add ("/prd/collab/joined-encoded-state", Fixture, NULL, fixture_setup,
              test_joined_encoded_state, fixture_teardown);
  g_test_add ("/prd/collab/snapshots-by-size", Fixture, "[collab]\nsnapshot-every=2\n",
              fixture_setup, test_snapshots_by_size, fixture_teardown);
  g_test_add ("/prd/collab/join-while-deleted", Fixture, NULL, fixture_setup,
              test_join_while_deleted, fixture_teardown);
  g_test_add ("/prd/collab/storage-failure", Fixture, NULL, fixture_setup, test_storage_failure,
              fixture_teardown);
  g_test_add ("/prd/collab/storage-failure-retires-sites", Fixture,
              "[collab]\nempty-room-grace=1\n", fixture_setup, test_storage_failure_retires_sites,
              fixture_teardown);
  g_test_add ("/prd/collab/log-gap", Fixture, NULL, fixture_setup, test_log_gap, fixture_teardown);
  g_test_add ("/prd/collab/refusals", Fixture, NULL, fixture_setup, test_refusals,
              fixture_teardown);
  g_test_add ("/prd/collab/padded-vector", Fixture, NULL, fixture_setup, test_padded_vector,
              fixture_teardown);

  return g_test_run ();
}
