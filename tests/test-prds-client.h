/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* A minimal Socket.IO client of /prds over a SoupSession WebSocket, for the
 * in-process hub tests (test-collab, test-versions, test-ai-jobs): enough to
 * connect with a token, emit with acks and wait for events. */

#include <libsoup/soup.h>

#include "prd-auth.h"
#include "prd-hub.h"
#include "prd-store.h"

G_BEGIN_DECLS

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
} Client;

Client *client_connect (const char *hub_url, const char *token);
void client_free (Client *client);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Client, client_free)

char *next_message (Client *client);
char *take_message (Client *client, const char *prefix);
gint64 client_emit (Client *client, const char *event, const char *payload_json);
JsonNode *wait_event (Client *client, const char *event);
JsonNode *wait_ack (Client *client, gint64 id);
JsonNode *request (Client *client, const char *event, const char *payload_json);
void assert_ok (JsonNode *ack);
const char *ack_error_code (JsonNode *ack);

char *mint_token (PrdAuth *auth, const char *user, const char *org, PrdRole role);

void result_cb (GObject *source, GAsyncResult *result, gpointer user_data);
GAsyncResult *wait_result (GAsyncResult **slot);
void start_hub (PrdHub *hub, PrdStore *store);
char *store_text (PrdStore *store, const char *prd_id, gint64 *out_snapshot_seq);
void remove_tree (const char *path);

/* An in-process hub with a SQLite store, as most of these tests need it. */
typedef struct
{
  char *tmp_dir;
  PrdHubConfig *config;
  PrdAuth *auth;
  PrdStore *store;
  PrdHub *hub;
  char *url;
} TestHub;

void
test_hub_setup (TestHub *f, const char *prefix, const char *secret_text, const char *config_data);
void test_hub_teardown (TestHub *f);

G_END_DECLS
