/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "prd-sqlite-store.h"

G_BEGIN_DECLS

/*
 * Comments, notifications, approvals and the activity feed in the hub's
 * database (tables of schema migration "social"). A request is a short
 * list of statements run in order on the store's worker, inside one
 * savepoint: all of them apply or none. Parameters are a GVariant tuple
 * of `x` (integer), `s` (text) and `ms` (nullable text) values.
 */

typedef struct
{
  const char *sql;  /* static: statements are cached by this pointer */
  GVariant *params; /* (owned) (nullable): a tuple */
} PrdSocialStmt;

/**
 * PrdSocialResult:
 * @rows: (element-type GVariant): the rows of the last statement, each an
 *   `av` (integers as `x`, text as `s`, NULL as `ms` nothing)
 * @changes: rows changed by all statements together
 */
typedef struct
{
  GPtrArray *rows;
  gint64 changes;
} PrdSocialResult;

void prd_social_result_free (PrdSocialResult *result);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrdSocialResult, prd_social_result_free)

/* @stmts: (transfer full) (element-type PrdSocialStmt), built with
 * prd_social_stmts_new() and prd_social_stmts_add(). */
GPtrArray *prd_social_stmts_new (void);
void prd_social_stmts_add (GPtrArray *stmts, const char *sql, GVariant *params);

void prd_social_store_run_async (PrdSqliteStore *store,
                                 gboolean write,
                                 GPtrArray *stmts,
                                 GCancellable *cancellable,
                                 GAsyncReadyCallback callback,
                                 gpointer user_data);
PrdSocialResult *
prd_social_store_run_finish (PrdSqliteStore *store, GAsyncResult *result, GError **error);

gint64 prd_social_row_int (GVariant *row, guint column);
const char *prd_social_row_str (GVariant *row, guint column);

G_END_DECLS
