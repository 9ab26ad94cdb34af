/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "prd-secret-store.h"

G_BEGIN_DECLS

#define PRD_FILE_SECRET_STORE_FILE "secrets"
/* Held by every write to the file, across processes. */
#define PRD_FILE_SECRET_STORE_LOCK_FILE "secrets.lock"

#define PRD_TYPE_FILE_SECRET_STORE (prd_file_secret_store_get_type ())

G_DECLARE_FINAL_TYPE (PrdFileSecretStore, prd_file_secret_store, PRD, FILE_SECRET_STORE, GObject)

PrdSecretStore *prd_file_secret_store_new (const char *dir);
const char *prd_file_secret_store_get_path (PrdFileSecretStore *self);

G_END_DECLS
