/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* The shared harness of the C tests (libprd-test-harness.a, linked into
 * every test through prd_test_harness_dep):
 *
 * - waiting: an async result captured and waited for, a predicate or a
 *   signal waited for; every wait is bounded and fails with a message that
 *   names what it waited for, instead of hanging until meson kills the test;
 * - files: temporary folders, created and removed with their contents;
 * - the store: synchronous wrappers over the async store API;
 * - the hub: tokens, an in-process hub with a SQLite store on 127.0.0.1:0
 *   (PrdTestHub) and a minimal Socket.IO client of /prds (PrdTestClient). */

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <sqlite3.h>

#include "prd-auth.h"
#include "prd-autocleanups.h"
#include "prd-error.h"
#include "prd-hub.h"
#include "prd-sqlite-store.h"
#include "prd-store.h"

G_BEGIN_DECLS

/* ---- waiting ----------------------------------------------------------------- */

/* How long a wait without an explicit timeout may take: long enough for a
 * sanitizer build on a busy machine, short enough to fail before meson's
 * per-test timeout does. */
#define PRD_TEST_TIMEOUT_MS 60000

/* Stores a reference to @result in the GAsyncResult * that @user_data points to. */
void prd_test_result_cb (GObject *source, GAsyncResult *result, gpointer user_data);

GAsyncResult *prd_test_wait_result_full (
    GAsyncResult **slot, guint timeout_ms, const char *what, const char *file, int line);

/* Runs the default main context until *@slot is set (by prd_test_result_cb())
 * and returns it, still owned by *@slot. */
#define prd_test_wait_result(slot) \
  prd_test_wait_result_full ((slot), PRD_TEST_TIMEOUT_MS, #slot, __FILE__, __LINE__)

/* Calls the async @call with its arguments, prd_test_result_cb and a local
 * slot, waits, and evaluates to the (owned) GAsyncResult. */
#define PRD_TEST_WAIT_FOR(call, ...)                                                       \
  ({                                                                                       \
    GAsyncResult *_prd_res = NULL;                                                         \
    call (__VA_ARGS__, prd_test_result_cb, &_prd_res);                                     \
    prd_test_wait_result_full (&_prd_res, PRD_TEST_TIMEOUT_MS, #call, __FILE__, __LINE__); \
  })

typedef gboolean (*PrdTestPredicate) (gpointer data);

void prd_test_wait_until_full (PrdTestPredicate predicate,
                               gpointer data,
                               guint timeout_ms,
                               const char *what,
                               const char *file,
                               int line);

/* Runs the default main context until @predicate (@data) is TRUE; aborts the
 * test with the predicate's name after @timeout_ms. The predicate is also
 * checked every few milliseconds, so it may read state no main-loop source
 * reports (a file, a second SQLite connection). */
#define prd_test_wait_until(predicate, data, timeout_ms) \
  prd_test_wait_until_full ((predicate), (data), (timeout_ms), #predicate, __FILE__, __LINE__)

void prd_test_iterate_before (gint64 deadline, const char *what, const char *file, int line);

/* Runs the default main context while @cond holds (an expression on the
 * test's own state, re-evaluated after each iteration); aborts the test,
 * quoting @cond, after @timeout_ms. */
#define prd_test_wait_while(cond, timeout_ms)                                     \
  G_STMT_START                                                                    \
  {                                                                               \
    gint64 prd_test_deadline_ =                                                   \
        g_get_monotonic_time () + (gint64) (timeout_ms) *G_TIME_SPAN_MILLISECOND; \
    while (cond)                                                                  \
      prd_test_iterate_before (prd_test_deadline_, #cond, __FILE__, __LINE__);    \
  }                                                                               \
  G_STMT_END

/* Counts the emissions of one signal of one object from its creation on, so
 * that a test can start the operation that emits it and then wait. */
typedef struct _PrdTestSignalWatch PrdTestSignalWatch;

PrdTestSignalWatch *prd_test_signal_watch_new (gpointer object, const char *detailed_signal);
guint prd_test_signal_watch_get_count (PrdTestSignalWatch *watch);
void prd_test_signal_watch_wait_full (
    PrdTestSignalWatch *watch, guint count, guint timeout_ms, const char *file, int line);
void prd_test_signal_watch_free (PrdTestSignalWatch *watch);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrdTestSignalWatch, prd_test_signal_watch_free)

/* Waits until @watch has counted @count emissions in all. */
#define prd_test_signal_watch_wait(watch, count, timeout_ms) \
  prd_test_signal_watch_wait_full ((watch), (count), (timeout_ms), __FILE__, __LINE__)

void prd_test_wait_signal_full (
    gpointer object, const char *detailed_signal, guint timeout_ms, const char *file, int line);

/* Waits for the next emission of @detailed_signal on @object. */
#define prd_test_wait_signal(object, detailed_signal, timeout_ms) \
  prd_test_wait_signal_full ((object), (detailed_signal), (timeout_ms), __FILE__, __LINE__)

/* Runs the default main context for @ms whatever happens: for a test that
 * checks that nothing happens in a while (no auto-save without changes). */
void prd_test_run_for (guint ms);

/* ---- files ------------------------------------------------------------------- */

/* g_dir_make_tmp (@tmpl), asserting that it worked. */
char *prd_test_make_tmp_dir (const char *tmpl);
/* Removes @path and, for a folder, everything in it (symlinks not followed). */
void prd_test_remove_tree (const char *path);

/* ---- the store ---------------------------------------------------------------- */

PrdStore *prd_test_store_open (const char *path, GError **error);
void prd_test_store_close (PrdStore *store);
PrdStoreInfo *prd_test_store_create (PrdStore *store,
                                     const char *prd_id,
                                     const char *org,
                                     const char *title,
                                     const char *owner,
                                     GError **error);
PrdStoreSite *prd_test_store_acquire_site (PrdStore *store,
                                           const char *prd_id,
                                           const char *user_id,
                                           const int *busy,
                                           guint n_busy,
                                           GError **error);
gint64 prd_test_store_append (PrdStore *store,
                              const char *prd_id,
                              int site,
                              gint64 clock,
                              const char *user_id,
                              GBytes *payload,
                              GError **error);
PrdStoreDocument *prd_test_store_load (PrdStore *store, const char *prd_id, GError **error);
/* What a fresh replica rebuilt from the store holds. */
char *prd_test_store_text (PrdStore *store, const char *prd_id, gint64 *out_snapshot_seq);
/* A second, read-only connection to the database at @path. */
sqlite3 *prd_test_sqlite_open_ro (const char *path);

/* ---- the hub ------------------------------------------------------------------ */

/* prd_auth_mint (@auth, @identity), asserting that it worked. */
char *prd_test_mint (PrdAuth *auth, PrdIdentity *identity);
/* A token of @auth for @user (also its name) in @org, valid for an hour. */
char *prd_test_mint_token (PrdAuth *auth, const char *user, const char *org, PrdRole role);

/* prd_hub_set_store_async() to the end: every feature has started. */
void prd_test_start_hub (PrdHub *hub, PrdStore *store);

/* An in-process hub with a SQLite store, as most hub tests need it. */
typedef struct
{
  char *tmp_dir;
  PrdHubConfig *config;
  PrdAuth *auth;
  PrdStore *store;
  PrdHub *hub;
  char *url;
} PrdTestHub;

void prd_test_hub_setup (PrdTestHub *f,
                         const char *prefix,
                         const char *secret_text,
                         const char *config_data);
void prd_test_hub_teardown (PrdTestHub *f);

/* ---- the /prds client ----------------------------------------------------------- */

/* A minimal Socket.IO client of /prds over a SoupSession WebSocket: enough
 * to connect with a token, emit with acks and wait for events. */
typedef struct
{
  SoupSession *session;
  SoupWebsocketConnection *ws;
  GQueue messages; /* (element-type utf8) */
  gboolean closed;
  gboolean done;
  GError *error;
  gint64 next_ack;
  gint64 site; /* the siteId of the last edit-mode join, for tests that edit */
} PrdTestClient;

PrdTestClient *prd_test_client_connect (const char *hub_url, const char *token);
void prd_test_client_free (PrdTestClient *client);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrdTestClient, prd_test_client_free)

char *prd_test_client_next_message (PrdTestClient *client);
char *prd_test_client_take_message (PrdTestClient *client, const char *prefix);
gint64 prd_test_client_emit (PrdTestClient *client, const char *event, const char *payload_json);
JsonNode *prd_test_client_wait_event (PrdTestClient *client, const char *event);
JsonNode *prd_test_client_wait_ack (PrdTestClient *client, gint64 id);
JsonNode *
prd_test_client_request (PrdTestClient *client, const char *event, const char *payload_json);
void prd_test_assert_ok (JsonNode *ack);
const char *prd_test_ack_error_code (JsonNode *ack);

G_END_DECLS
