/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The model name the test server reports in its answers. */
#define AI_TEST_SERVER_MODEL "prd-test-model"

typedef struct _AiTestServer AiTestServer;

AiTestServer *ai_test_server_new (guint port, GError **error);
void ai_test_server_free (AiTestServer *self);
char *ai_test_server_get_base_url (AiTestServer *self);
void ai_test_server_open_gate (AiTestServer *self);
guint ai_test_server_get_n_requests (AiTestServer *self);
const char *ai_test_server_get_last_body (AiTestServer *self);
const char *ai_test_server_get_last_authorization (AiTestServer *self);
const char *ai_test_server_get_last_accept (AiTestServer *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (AiTestServer, ai_test_server_free)

G_END_DECLS
