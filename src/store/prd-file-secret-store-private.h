/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "prd-file-secret-store.h"

G_BEGIN_DECLS

void prd_file_secret_store_set_lock_wait (PrdFileSecretStore *self, guint wait_ms);

G_END_DECLS
