/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * AI jobs inside one process: the queue and the ai_jobs table on their own,
 * then a PrdHub with a SQLite store and the scripted AI test server on
 * 127.0.0.1:0, driven by minimal Socket.IO clients: what the AI streamed is
 * in the store as operations of the AI site, and a restart marks running
 * jobs INTERRUPTED.
 */
#include "config.h"

#include <string.h>

#include <glib/gstdio.h>
#include <libsoup/soup.h>

#include "ai-test-server.h"
#include "prd-ai-queue.h"
#include "prd-error.h"
#include "prd-hub-ai-private.h"
#include "prd-hub-ai.h"
#include "prd-hub-config-ai.h"
#include "prd-hub.h"
#include "prd-ai-job-store.h"
#include "prd-sqlite-store.h"

#include "prd-test-harness.h"

#define SECRET "ai-jobs-test-secret-0123456789abcdef0123"

typedef struct
{
  char *tmp_dir;
  PrdHubConfig *config;
  PrdAuth *auth;
  PrdStore *store;
  PrdHub *hub;
  char *url;
  AiTestServer *ai;
} Fixture;

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
fixture_open (Fixture *f)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PrdAiProvider) provider = NULL;
  g_autofree char *db = g_build_filename (f->tmp_dir, "prdhub.db", NULL);

  f->store = prd_test_store_open (db, &error);
  g_assert_no_error (error);
  provider = prd_hub_ai_build_provider (f->config, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (provider);
  f->hub = prd_hub_new (f->config, f->auth);
  prd_test_start_hub (f->hub, f->store);
  prd_hub_set_ai_provider (f->hub, provider);
  g_assert_true (prd_hub_listen (f->hub, &error));
  g_clear_pointer (&f->url, g_free);
  f->url = prd_hub_get_url (f->hub);
}

static void
fixture_close (Fixture *f)
{
  g_clear_object (&f->hub);
  prd_test_store_close (f->store);
  g_clear_object (&f->store);
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) secret = g_bytes_new_static (SECRET, strlen (SECRET));
  g_autofree char *base_url = NULL;
  g_autofree char *ini = NULL;

  f->ai = ai_test_server_new (0, &error);
  g_assert_no_error (error);
  base_url = ai_test_server_get_base_url (f->ai);
  ini = g_strdup_printf ("[collab]\nbatch-threshold=0\n[ai]\nbase-url=%s\nmodel=m\n%s", base_url,
                         data != NULL ? (const char *) data : "");
  f->tmp_dir = prd_test_make_tmp_dir ("prd-ai-jobs-XXXXXX");
  f->config = prd_hub_config_new ();
  g_assert_true (prd_hub_config_set (f->config, "server", "listen", "127.0.0.1:0", &error));
  g_assert_true (prd_hub_config_set (f->config, "server", "data-dir", f->tmp_dir, &error));
  g_assert_true (prd_hub_config_load_data (f->config, ini, -1, &error));
  g_assert_true (prd_hub_config_validate (f->config, &error));
  f->auth = prd_auth_new_hmac (secret, &error);
  g_assert_no_error (error);
  fixture_open (f);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  fixture_close (f);
  g_clear_object (&f->auth);
  g_clear_pointer (&f->config, prd_hub_config_unref);
  g_clear_pointer (&f->ai, ai_test_server_free);
  prd_test_remove_tree (f->tmp_dir);
  g_free (f->tmp_dir);
  g_free (f->url);
}

static void
join (PrdTestClient *client, const char *prd_id)
{
  g_autofree char *payload = g_strdup_printf ("{\"prdId\":\"%s\",\"mode\":\"edit\"}", prd_id);
  g_autoptr (JsonNode) ack = prd_test_client_request (client, "join-prd", payload);
  g_autoptr (JsonNode) joined = prd_test_client_wait_event (client, "joined-prd");

  prd_test_assert_ok (ack);
}

static PrdAiJobRecord *
stored_job (Fixture *f, const char *job_id)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  PrdAiJobRecord *job;

  prd_ai_job_store_get_async (PRD_AI_JOB_STORE (f->store), job_id, NULL, prd_test_result_cb,
                              &result);
  job = prd_ai_job_store_get_finish (PRD_AI_JOB_STORE (f->store), prd_test_wait_result (&result),
                                     &error);
  g_assert_no_error (error);
  return job;
}

/* The streamed answer is stored as operations of the AI site; the row says
 * complete with the provider's token count. */
static void
test_stream_is_stored (Fixture *f, gconstpointer data)
{
  g_autofree char *prd_id = create_prd (f, "org", "Base.\n");
  g_autoptr (PrdTestClient) a = client_new (f, "user_a", "org", PRD_ROLE_EDITOR);
  g_autoptr (JsonNode) ack = NULL;
  g_autoptr (JsonNode) complete = NULL;
  g_autoptr (JsonNode) update = NULL;
  g_autoptr (PrdAiJobRecord) job = NULL;
  g_autofree char *payload = NULL;
  g_autofree char *text = NULL;
  g_autofree char *job_id = NULL;
  JsonObject *object;

  join (a, prd_id);
  payload = g_strdup_printf ("{\"prdId\":\"%s\",\"prompt\":\"Add a greeting\","
                             "\"context\":{\"cursorPosition\":0}}",
                             prd_id);
  ack = prd_test_client_request (a, "ai-prompt", payload);
  prd_test_assert_ok (ack);
  job_id = g_strdup (json_object_get_string_member (json_node_get_object (ack), "jobId"));
  complete = prd_test_client_wait_event (a, "ai-stream-complete");
  object = json_node_get_object (complete);
  g_assert_cmpstr (json_object_get_string_member (object, "jobId"), ==, job_id);
  g_assert_cmpstr (json_object_get_string_member (object, "fullResponse"), ==,
                   "Hello, world \xe2\x9c\x93");
  g_assert_cmpint (json_object_get_int_member (object, "tokensUsed"), ==, 15);
  /* The model's "Add a sequence diagram" is no JSON array: no suggestions. */
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (object, "suggestions")),
                    ==, 0);
  update = prd_test_client_wait_event (a, "content-update");
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (update), "userId"), ==,
                   "ai");

  /* Every insert was appended before the job completed. */
  text = stored_text (f, prd_id, NULL);
  g_assert_cmpstr (text, ==,
                   "Hello, world \xe2\x9c\x93"
                   "Base.\n");
  /* The hub saves the row (in job_end) right after it emits
   * ai-stream-complete, in the same main-loop dispatch; the store serves
   * requests in order, so this read, sent after that event arrived, sees
   * the saved row. No polling. */
  job = stored_job (f, job_id);
  g_assert_nonnull (job);
  g_assert_cmpstr (job->state, ==, "complete");
  g_assert_cmpstr (job->user_id, ==, "user_a");
  g_assert_cmpstr (job->prompt, ==, "Add a greeting");
  g_assert_cmpint (job->tokens, ==, 15);
  g_assert_null (job->error_code);
}

/* A hub stopped while a job streams leaves it streaming; the next start
 * marks it failed with INTERRUPTED. The text already streamed stays. */
static void
test_restart_interrupts (Fixture *f, gconstpointer data)
{
  g_autofree char *prd_id = create_prd (f, "org", "Base.\n");
  g_autofree char *payload = NULL;
  g_autofree char *job_id = NULL;
  g_autofree char *text = NULL;
  g_autoptr (JsonNode) ack = NULL;
  g_autoptr (JsonNode) chunk = NULL;
  g_autoptr (PrdAiJobRecord) job = NULL;

  {
    g_autoptr (PrdTestClient) a = client_new (f, "user_a", "org", PRD_ROLE_EDITOR);

    join (a, prd_id);
    payload = g_strdup_printf ("{\"prdId\":\"%s\",\"prompt\":\"scenario:gated go\"}", prd_id);
    ack = prd_test_client_request (a, "ai-prompt", payload);
    prd_test_assert_ok (ack);
    job_id = g_strdup (json_object_get_string_member (json_node_get_object (ack), "jobId"));
    chunk = prd_test_client_wait_event (a, "ai-stream-chunk");
    g_assert_cmpstr (json_object_get_string_member (json_node_get_object (chunk), "chunk"), ==,
                     "first");
    /* The content-update comes after the append's commit. */
    g_clear_pointer (&chunk, json_node_unref);
    chunk = prd_test_client_wait_event (a, "content-update");
  }
  fixture_close (f);
  fixture_open (f);
  /* The hub's start (prd_hub_set_store_async(), waited for in
   * fixture_open()) completes only once the AI feature has marked the
   * unfinished jobs failed: the row is final already. */
  job = stored_job (f, job_id);
  g_assert_nonnull (job);
  g_assert_cmpstr (job->state, ==, "failed");
  g_assert_cmpstr (job->error_code, ==, "INTERRUPTED");
  text = stored_text (f, prd_id, NULL);
  g_assert_cmpstr (text, ==, "Base.\nfirst");
  ai_test_server_open_gate (f->ai);
}

/* A user is (organization, user id): the same `sub` in another organization
 * has a quota of its own and does not use up anyone else's. */
static void
test_queue_quota_per_organization (void)
{
  g_autoptr (PrdAiQueue) queue = prd_ai_queue_new (1, 2, 4);
  g_autoptr (GError) error = NULL;
  gint64 t0 = 1000 * G_USEC_PER_SEC;
  const char *orgs[] = { "acme", "other", "acme", "other", "2:a", "2" };
  const char *users[] = { "u", "u", "u", "u", "u", ":au" };

  /* Two each for acme/u and other/u; "2:a" + "u" and "2" + ":au" are two users too. */
  for (guint i = 0; i < G_N_ELEMENTS (orgs); i++)
    {
      g_autoptr (PrdAiJob) job = prd_ai_job_new ("prd_a", orgs[i], users[i], "p", NULL);

      g_assert_true (prd_ai_queue_submit (queue, job, t0 + i, NULL, &error));
      g_assert_no_error (error);
    }
  for (guint i = 0; i < 2; i++)
    {
      g_autoptr (PrdAiJob) job = prd_ai_job_new ("prd_a", orgs[i], "u", "p", NULL);

      g_assert_false (prd_ai_queue_submit (queue, job, t0 + 10, NULL, &error));
      g_assert_error (error, PRD_ERROR, PRD_ERROR_RATE_LIMIT_EXCEEDED);
      g_clear_error (&error);
    }
}

/* The hourly quota remembers the last hour's users, not every user ever:
 * users idle for an hour are swept as charges go on. */
static void
test_queue_quota_forgets_idle_users (void)
{
  g_autoptr (PrdAiQueue) queue = prd_ai_queue_new (1, 2, 4);
  gint64 t0 = 1000 * G_USEC_PER_SEC;
  gint64 later = t0 + 2 * 3600 * (gint64) G_USEC_PER_SEC;

  for (guint i = 0; i < 3000; i++)
    {
      g_autofree char *user = g_strdup_printf ("u%u", i);

      g_assert_true (prd_ai_queue_charge (queue, "acme", user, t0, NULL, NULL));
    }
  g_assert_cmpuint (prd_ai_queue_get_n_charged_users (queue), ==, 3000);
  /* Two hours later, other users' charges sweep them (a charge of the
   * same user twice an hour would be refused: quota 2). */
  for (guint i = 0; i < 2048; i++)
    {
      g_autofree char *user = g_strdup_printf ("v%u", i);

      g_assert_true (prd_ai_queue_charge (queue, "acme", user, later, NULL, NULL));
    }
  g_assert_cmpuint (prd_ai_queue_get_n_charged_users (queue), <=, 2048);
  /* A user of the last hour is still counted. */
  g_assert_true (prd_ai_queue_charge (queue, "acme", "v0", later, NULL, NULL));
  g_assert_false (prd_ai_queue_charge (queue, "acme", "v0", later, NULL, NULL));
}

static void
test_job_owner (void)
{
  g_autoptr (PrdAiJob) job = prd_ai_job_new ("prd_a", "acme", "u", "p", NULL);

  g_assert_true (prd_ai_job_is_owned_by (job, "acme", "u"));
  g_assert_false (prd_ai_job_is_owned_by (job, "other", "u"));
  g_assert_false (prd_ai_job_is_owned_by (job, "acme", "v"));
}

/* The queue's arithmetic with given times. */
static void
test_queue (void)
{
  g_autoptr (PrdAiQueue) queue = prd_ai_queue_new (2, 3, 4);
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) started = g_ptr_array_new ();
  g_autoptr (PrdAiJob) extra = prd_ai_job_new ("prd_a", "org", "user_a", "p", NULL);
  PrdAiJob *jobs[4];
  guint retry_after = 0;
  gint64 t0 = 1000 * G_USEC_PER_SEC;

  g_signal_connect_swapped (queue, "start", G_CALLBACK (g_ptr_array_add), started);
  for (guint i = 0; i < 4; i++)
    jobs[i] = prd_ai_job_new ("prd_a", "org", i < 3 ? "user_a" : "user_b", "p", NULL);
  for (guint i = 0; i < 4; i++)
    {
      g_assert_true (
          prd_ai_queue_submit (queue, jobs[i], t0 + i * G_USEC_PER_SEC, &retry_after, &error));
      g_assert_no_error (error);
    }
  /* user_b's first job comes right after user_a's first, not after all three. */
  g_assert_cmpint (prd_ai_queue_get_position (queue, jobs[3]), ==, 2);
  g_assert_cmpint (prd_ai_queue_get_position (queue, jobs[2]), ==, 4);
  g_assert_cmpuint (prd_ai_queue_estimate (queue, 0), ==, PRD_AI_QUEUE_DEFAULT_ESTIMATE);
  prd_ai_queue_pump (queue, t0 + 5 * G_USEC_PER_SEC);
  g_assert_cmpuint (started->len, ==, 2);
  g_assert_true (started->pdata[0] == jobs[0]);
  g_assert_true (started->pdata[1] == jobs[3]);
  g_assert_cmpint (prd_ai_queue_get_position (queue, jobs[0]), ==, 0);
  g_assert_cmpint (prd_ai_queue_get_position (queue, jobs[1]), ==, 1);
  g_assert_cmpint (prd_ai_queue_get_position (queue, jobs[2]), ==, 2);
  g_assert_cmpint (jobs[0]->state, ==, PRD_AI_JOB_STREAMING);

  /* The fourth of user_a within the hour: refused until the first leaves the window. */
  g_assert_false (
      prd_ai_queue_submit (queue, extra, t0 + 10 * G_USEC_PER_SEC, &retry_after, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_RATE_LIMIT_EXCEEDED);
  g_assert_cmpuint (retry_after, ==, 3600 - 10);
  g_clear_error (&error);
  g_assert_true (prd_ai_queue_submit (queue, extra, t0 + (gint64) 3600 * G_USEC_PER_SEC,
                                      &retry_after, &error));
  g_assert_cmpint (prd_ai_queue_get_position (queue, extra), ==, 3);

  /* A complete job's duration is the estimate; a slot frees for the next. */
  prd_ai_queue_finish (queue, jobs[0], PRD_AI_JOB_COMPLETE, t0 + 15 * G_USEC_PER_SEC);
  g_assert_cmpint (jobs[0]->duration, ==, 10000);
  g_assert_cmpuint (started->len, ==, 3);
  g_assert_true (started->pdata[2] == jobs[1]);
  g_assert_cmpuint (prd_ai_queue_estimate (queue, 0), ==, 10);
  /* Position 2 with both slots taken waits one round. */
  g_assert_cmpuint (prd_ai_queue_estimate (queue, 2), ==, 20);
  g_assert_true (prd_ai_queue_cancel_queued (queue, jobs[2]));
  g_assert_cmpint (jobs[2]->state, ==, PRD_AI_JOB_CANCELLED);
  g_assert_false (prd_ai_queue_cancel_queued (queue, jobs[2]));
  prd_ai_queue_finish (queue, jobs[3], PRD_AI_JOB_FAILED, t0 + 20 * G_USEC_PER_SEC);
  g_assert_cmpuint (started->len, ==, 4);
  g_assert_true (started->pdata[3] == extra);
  g_assert_cmpuint (prd_ai_queue_estimate (queue, 0), ==, 10);
  g_assert_cmpuint (prd_ai_queue_get_n_queued (queue), ==, 0);
  g_assert_cmpuint (prd_ai_queue_get_n_running (queue), ==, 2);
  for (guint i = 0; i < 4; i++)
    prd_ai_job_unref (jobs[i]);
}

static PrdAiJob *
submit (PrdAiQueue *queue, const char *org, const char *user_id, gint64 now)
{
  g_autoptr (GError) error = NULL;
  PrdAiJob *job = prd_ai_job_new ("prd_a", org, user_id, "p", NULL);

  g_assert_true (prd_ai_queue_submit (queue, job, now, NULL, &error));
  g_assert_no_error (error);
  return job;
}

/* One user's backlog does not hold everyone else's first job: slots go to
 * the user with the fewest jobs running, and one user may have only
 * max-queued-per-user jobs waiting or running. A user is (organization,
 * user id): the same `sub` of another organization is someone else. */
static void
test_queue_fair (void)
{
  g_autoptr (PrdAiQueue) queue = prd_ai_queue_new (2, 5, 4);
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) started = g_ptr_array_new ();
  g_autoptr (PrdAiJob) over = prd_ai_job_new ("prd_a", "org_b", "u", "p", NULL);
  g_autoptr (PrdAiJob) again = NULL;
  g_autoptr (PrdAiJob) b1 = NULL;
  g_autoptr (PrdAiJob) c1 = NULL;
  PrdAiJob *a[4];
  guint retry_after = 7;
  gint64 t0 = 1000 * G_USEC_PER_SEC;

  g_signal_connect_swapped (queue, "start", G_CALLBACK (g_ptr_array_add), started);
  for (guint i = 0; i < 4; i++)
    a[i] = submit (queue, "org_b", "u", t0 + i);
  /* The fifth waiting or running: LIMIT_REACHED, not counted against the quota. */
  g_assert_false (prd_ai_queue_submit (queue, over, t0 + 10, &retry_after, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_LIMIT_REACHED);
  g_assert_nonnull (strstr (error->message, "max-queued-per-user"));
  g_assert_cmpuint (retry_after, ==, 0);
  g_clear_error (&error);
  g_assert_cmpuint (prd_ai_queue_get_n_queued (queue), ==, 4);

  prd_ai_queue_pump (queue, t0 + 20);
  g_assert_cmpuint (started->len, ==, 2);
  g_assert_true (started->pdata[0] == a[0] && started->pdata[1] == a[1]);

  /* Another user's first job is next, then a third user's, then the backlog. */
  b1 = submit (queue, "org_a", "u", t0 + 30);
  c1 = submit (queue, "org_a", "v", t0 + 40);
  g_assert_cmpint (prd_ai_queue_get_position (queue, b1), ==, 1);
  g_assert_cmpint (prd_ai_queue_get_position (queue, c1), ==, 2);
  g_assert_cmpint (prd_ai_queue_get_position (queue, a[2]), ==, 3);
  g_assert_cmpint (prd_ai_queue_get_position (queue, a[3]), ==, 4);
  /* Position 1 with both slots taken: one round, then its own. */
  g_assert_cmpuint (prd_ai_queue_estimate (queue, 1), ==, 2 * PRD_AI_QUEUE_DEFAULT_ESTIMATE);

  prd_ai_queue_finish (queue, a[0], PRD_AI_JOB_COMPLETE, t0 + 50);
  g_assert_true (started->pdata[2] == b1);
  prd_ai_queue_finish (queue, a[1], PRD_AI_JOB_COMPLETE, t0 + 60);
  g_assert_true (started->pdata[3] == c1);
  g_assert_cmpint (prd_ai_queue_get_position (queue, a[2]), ==, 1);
  /* org_b/u has nothing running now, b1 and c1 one each: a[2] goes first. */
  prd_ai_queue_finish (queue, b1, PRD_AI_JOB_COMPLETE, t0 + 70);
  g_assert_true (started->pdata[4] == a[2]);
  g_assert_cmpint (prd_ai_queue_get_position (queue, a[3]), ==, 1);

  /* Cancelling a waiting job gives its place back: the user may submit
   * again, within the hour's quota (5: four above and this one). */
  g_assert_true (prd_ai_queue_cancel_queued (queue, a[3]));
  again = submit (queue, "org_b", "u", t0 + 80);
  g_assert_false (prd_ai_queue_submit (queue, over, t0 + 90, &retry_after, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_RATE_LIMIT_EXCEEDED);
  g_clear_error (&error);
  for (guint i = 0; i < 4; i++)
    prd_ai_job_unref (a[i]);
}

/* Round robin holds for users who keep one job at a time: one who asks
 * again as soon as their job ends is not "never served" again, so a user
 * whose job waits gets the slot after each of the others has had one. */
static void
test_queue_fair_returning (void)
{
  g_autoptr (PrdAiQueue) queue = prd_ai_queue_new (1, 1000, 4);
  g_autoptr (GPtrArray) started = g_ptr_array_new ();
  g_autoptr (PrdAiJob) a1 = NULL;
  g_autoptr (PrdAiJob) a2 = NULL;
  PrdAiJob *b, *c;
  gint64 now = 1;

  g_signal_connect_swapped (queue, "start", G_CALLBACK (g_ptr_array_add), started);
  a1 = submit (queue, "org", "a", now++);
  a2 = submit (queue, "org", "a", now++);
  b = submit (queue, "org", "b", now++);
  c = submit (queue, "org", "c", now++);
  prd_ai_queue_pump (queue, now++);
  g_assert_true (started->pdata[0] == a1);
  /* b and c have none started yet: they go before a's second job. */
  prd_ai_queue_finish (queue, a1, PRD_AI_JOB_COMPLETE, now++);
  g_assert_true (started->pdata[1] == b);
  /* b asks again as soon as its job ends: it was served after a. */
  prd_ai_queue_finish (queue, b, PRD_AI_JOB_COMPLETE, now++);
  prd_ai_job_unref (b);
  b = submit (queue, "org", "b", now++);
  g_assert_true (started->pdata[2] == c);
  g_assert_cmpint (prd_ai_queue_get_position (queue, a2), ==, 1);
  prd_ai_queue_finish (queue, c, PRD_AI_JOB_COMPLETE, now++);
  prd_ai_job_unref (c);
  c = submit (queue, "org", "c", now++);
  g_assert_true (started->pdata[3] == a2);
  /* Then b and c, in the order they were served before. */
  prd_ai_queue_finish (queue, a2, PRD_AI_JOB_COMPLETE, now++);
  g_assert_true (started->pdata[4] == b);
  prd_ai_queue_finish (queue, b, PRD_AI_JOB_COMPLETE, now++);
  g_assert_true (started->pdata[5] == c);
  prd_ai_queue_finish (queue, c, PRD_AI_JOB_COMPLETE, now++);
  g_assert_cmpuint (prd_ai_queue_get_n_running (queue), ==, 0);
  g_assert_cmpuint (prd_ai_queue_get_n_queued (queue), ==, 0);
  prd_ai_job_unref (b);
  prd_ai_job_unref (c);
}

/* max-queued-per-user at its edges: 1 admits one job at a time. */
static void
test_queue_max_per_user_one (void)
{
  g_autoptr (PrdAiQueue) queue = prd_ai_queue_new (1, 100, 1);
  g_autoptr (GError) error = NULL;
  g_autoptr (PrdAiJob) first = submit (queue, "org", "u", 1);
  g_autoptr (PrdAiJob) second = prd_ai_job_new ("prd_a", "org", "u", "p", NULL);
  g_autoptr (PrdAiJob) third = NULL;
  g_autoptr (PrdAiJob) other = submit (queue, "org", "w", 2);

  g_assert_false (prd_ai_queue_submit (queue, second, 3, NULL, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_LIMIT_REACHED);
  g_clear_error (&error);
  prd_ai_queue_pump (queue, 4);
  g_assert_cmpint (first->state, ==, PRD_AI_JOB_STREAMING);
  /* Running counts as much as waiting. */
  g_assert_false (prd_ai_queue_submit (queue, second, 5, NULL, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_LIMIT_REACHED);
  g_clear_error (&error);
  prd_ai_queue_finish (queue, first, PRD_AI_JOB_COMPLETE, 6);
  g_assert_cmpint (other->state, ==, PRD_AI_JOB_STREAMING);
  g_assert_true (prd_ai_queue_submit (queue, second, 7, NULL, &error));
  g_assert_no_error (error);
  third = prd_ai_job_new ("prd_a", "org", "u", "p", NULL);
  g_assert_false (prd_ai_queue_submit (queue, third, 8, NULL, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_LIMIT_REACHED);
}

static PrdAiJobRecord *
unsaved_record (guint n, const char *code)
{
  g_autofree char *id = g_strdup_printf ("job_%024x", n);
  PrdAiJobRecord record = {
    .id = id,
    .prd_id = (char *) "prd_aaaaaaaaaaaaaaaa",
    .user_id = (char *) "user_a",
    .prompt = (char *) "p",
    .state = (char *) "failed",
    .error_code = (char *) code,
    .error_message = (char *) "m",
  };

  return prd_ai_job_record_copy (&record);
}

/* The ends of jobs the store refused are kept up to the bound, exactly;
 * one more forgets the oldest, a newer end of the same job replaces its
 * own. */
static void
test_unsaved_bound (void)
{
  g_autoptr (PrdHubAiUnsaved) unsaved = prd_hub_ai_unsaved_new (PRD_HUB_AI_MAX_UNSAVED_JOBS);
  g_autoptr (GPtrArray) list = NULL;
  g_autofree char *forgotten = NULL;
  g_autofree char *first = g_strdup_printf ("job_%024x", 0);
  g_autofree char *second = g_strdup_printf ("job_%024x", 1);

  for (guint i = 0; i < PRD_HUB_AI_MAX_UNSAVED_JOBS; i++)
    g_assert_null (prd_hub_ai_unsaved_keep (unsaved, unsaved_record (i, "STORAGE_ERROR")));
  g_assert_cmpuint (prd_hub_ai_unsaved_get_size (unsaved), ==, PRD_HUB_AI_MAX_UNSAVED_JOBS);
  g_assert_nonnull (prd_hub_ai_unsaved_lookup (unsaved, first));

  /* The same job again: replaced, nothing forgotten. */
  g_assert_null (prd_hub_ai_unsaved_keep (unsaved, unsaved_record (0, "CANCELLED")));
  g_assert_cmpuint (prd_hub_ai_unsaved_get_size (unsaved), ==, PRD_HUB_AI_MAX_UNSAVED_JOBS);
  g_assert_cmpstr (prd_hub_ai_unsaved_lookup (unsaved, first)->error_code, ==, "CANCELLED");

  /* One past the bound: the oldest (now job 1, job 0 was kept again) goes. */
  forgotten = prd_hub_ai_unsaved_keep (
      unsaved, unsaved_record (PRD_HUB_AI_MAX_UNSAVED_JOBS, "STORAGE_ERROR"));
  g_assert_cmpstr (forgotten, ==, second);
  g_assert_cmpuint (prd_hub_ai_unsaved_get_size (unsaved), ==, PRD_HUB_AI_MAX_UNSAVED_JOBS);
  g_assert_null (prd_hub_ai_unsaved_lookup (unsaved, second));
  g_assert_nonnull (prd_hub_ai_unsaved_lookup (unsaved, first));

  list = prd_hub_ai_unsaved_list (unsaved);
  g_assert_cmpuint (list->len, ==, PRD_HUB_AI_MAX_UNSAVED_JOBS);
  g_assert_cmpstr (((PrdAiJobRecord *) g_ptr_array_index (list, 0))->id, ==,
                   prd_hub_ai_unsaved_lookup (unsaved, "job_000000000000000000000002")->id);

  g_assert_true (prd_hub_ai_unsaved_forget (unsaved, first));
  g_assert_false (prd_hub_ai_unsaved_forget (unsaved, first));
  g_assert_cmpuint (prd_hub_ai_unsaved_get_size (unsaved), ==, PRD_HUB_AI_MAX_UNSAVED_JOBS - 1);
}

static void
test_config (void)
{
  g_autoptr (PrdHubConfig) config = prd_hub_config_new ();
  g_autoptr (GError) error = NULL;

  g_assert_cmpuint (prd_hub_config_get_ai (config)->concurrency, ==, 2);
  g_assert_cmpuint (prd_hub_config_get_ai (config)->hourly_quota, ==, 30);
  g_assert_cmpuint (prd_hub_config_get_ai (config)->max_queued_per_user, ==, 4);
  g_assert_cmpuint (prd_hub_config_get_ai (config)->chunk_interval, ==, 20);
  g_assert_true (prd_hub_config_set (config, "ai", "chunk-interval", "1000", &error));
  g_assert_cmpuint (prd_hub_config_get_ai (config)->chunk_interval, ==, 1000);
  g_assert_true (prd_hub_config_set (config, "ai", "chunk-interval", "0", &error));
  g_assert_cmpuint (prd_hub_config_get_ai (config)->chunk_interval, ==, 0);
  g_assert_true (prd_hub_config_set (config, "ai", "max-queued-per-user", "1000", &error));
  g_assert_cmpuint (prd_hub_config_get_ai (config)->max_queued_per_user, ==, 1000);
  g_assert_true (prd_hub_config_set (config, "ai", "max-queued-per-user", "1", &error));
  g_assert_true (prd_hub_config_set (config, "ai", "concurrency", "4", &error));
  g_assert_true (prd_hub_config_set (config, "ai", "hourly-quota", "100", &error));
  g_assert_cmpuint (prd_hub_config_get_ai (config)->concurrency, ==, 4);
  g_assert_cmpuint (prd_hub_config_get_ai (config)->hourly_quota, ==, 100);
  for (guint i = 0; i < 9; i++)
    {
      static const char *const bad[][2] = {
        { "concurrency", "0" },          { "concurrency", "65" },
        { "hourly-quota", "0" },         { "hourly-quota", "lots" },
        { "max-queued-per-user", "0" },  { "max-queued-per-user", "1001" },
        { "max-queued-per-user", "-1" }, { "chunk-interval", "1001" },
        { "chunk-interval", "-1" },
      };

      g_assert_false (prd_hub_config_set (config, "ai", bad[i][0], bad[i][1], &error));
      g_assert_error (error, PRD_ERROR, PRD_ERROR_CONFIG);
      g_clear_error (&error);
    }
  g_assert_cmpuint (prd_hub_config_get_ai (config)->concurrency, ==, 4);
  g_assert_cmpuint (prd_hub_config_get_ai (config)->hourly_quota, ==, 100);
  g_assert_cmpuint (prd_hub_config_get_ai (config)->max_queued_per_user, ==, 1);
  g_assert_cmpuint (prd_hub_config_get_ai (config)->chunk_interval, ==, 0);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/prd/ai-jobs/config", test_config);
  g_test_add_func ("/prd/ai-jobs/queue", test_queue);
  g_test_add_func ("/prd/ai-jobs/queue-fair", test_queue_fair);
  g_test_add_func ("/prd/ai-jobs/queue-fair-returning", test_queue_fair_returning);
  g_test_add_func ("/prd/ai-jobs/queue-max-per-user-one", test_queue_max_per_user_one);
  g_test_add_func ("/prd/ai-jobs/queue-quota-per-organization", test_queue_quota_per_organization);
  g_test_add_func ("/prd/ai-jobs/queue-quota-forgets-idle-users",
                   test_queue_quota_forgets_idle_users);
  g_test_add_func ("/prd/ai-jobs/job-owner", test_job_owner);
  g_test_add_func ("/prd/ai-jobs/unsaved-bound", test_unsaved_bound);
  g_test_add ("/prd/ai-jobs/stream-is-stored", Fixture, NULL, fixture_setup, test_stream_is_stored,
              fixture_teardown);
  g_test_add ("/prd/ai-jobs/restart-interrupts", Fixture, NULL, fixture_setup,
              test_restart_interrupts, fixture_teardown);

  return g_test_run ();
}
