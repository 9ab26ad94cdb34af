/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "prd-auth.h"
#include "prd-revocation-store.h"
#include "prd-sio-namespace.h"
#include "prd-sio-socket.h"

G_BEGIN_DECLS

#define PRD_TYPE_HUB_TOKENS (prd_hub_tokens_get_type ())
G_DECLARE_FINAL_TYPE (PrdHubTokens, prd_hub_tokens, PRD, HUB_TOKENS, GObject)

PrdHubTokens *prd_hub_tokens_new (PrdAuth *auth, guint revocation_check_interval);
void prd_hub_tokens_add_namespace (PrdHubTokens *self, PrdSioNamespace *nsp);
void prd_hub_tokens_watch (PrdHubTokens *self, PrdSioSocket *socket);
void prd_hub_tokens_set_store (PrdHubTokens *self, PrdRevocationStore *store);
void prd_hub_tokens_sign_in_async (PrdHubTokens *self,
                                   const char *link_token,
                                   GCancellable *cancellable,
                                   GAsyncReadyCallback callback,
                                   gpointer user_data);
char *prd_hub_tokens_sign_in_finish (PrdHubTokens *self, GAsyncResult *result, GError **error);

G_END_DECLS
