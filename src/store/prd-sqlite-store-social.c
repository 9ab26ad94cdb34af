/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The social features' operations on the store's worker. Their SQL lives in
 * the hub (prd-hub-social.c) next to the logic that owns the tables; this
 * file only binds, steps and collects, on the worker's single connection.
 */
#define G_LOG_DOMAIN "prd-store"

#include "config.h"

#include "prd-error.h"
#include "prd-sqlite-store-private.h"

#include "prd-social-store.h"

static void
stmt_free (PrdSocialStmt *stmt)
{
  g_clear_pointer (&stmt->params, g_variant_unref);
  g_free (stmt);
}

GPtrArray *
prd_social_stmts_new (void)
{
  return g_ptr_array_new_with_free_func ((GDestroyNotify) stmt_free);
}

/* @params: (transfer floating) (nullable) */
void
prd_social_stmts_add (GPtrArray *stmts, const char *sql, GVariant *params)
{
  PrdSocialStmt *stmt = g_new0 (PrdSocialStmt, 1);

  stmt->sql = sql;
  stmt->params = params != NULL ? g_variant_ref_sink (params) : NULL;
  g_ptr_array_add (stmts, stmt);
}

void
prd_social_result_free (PrdSocialResult *result)
{
  g_clear_pointer (&result->rows, g_ptr_array_unref);
  g_free (result);
}

static gboolean
bind (PrdSqliteWorker *worker, sqlite3_stmt *stmt, GVariant *params, GError **error)
{
  gsize n = params != NULL ? g_variant_n_children (params) : 0;

  for (gsize i = 0; i < n; i++)
    {
      g_autoptr (GVariant) value = g_variant_get_child_value (params, i);
      g_autoptr (GVariant) inner = NULL;
      int rc;

      if (g_variant_is_of_type (value, G_VARIANT_TYPE ("ms")))
        {
          inner = g_variant_get_maybe (value);
          if (inner == NULL)
            {
              rc = sqlite3_bind_null (stmt, (int) i + 1);
              goto check;
            }
          value = g_steal_pointer (&inner);
        }
      if (g_variant_is_of_type (value, G_VARIANT_TYPE_INT64))
        rc = sqlite3_bind_int64 (stmt, (int) i + 1, g_variant_get_int64 (value));
      else if (g_variant_is_of_type (value, G_VARIANT_TYPE_STRING))
        rc = sqlite3_bind_text (stmt, (int) i + 1, g_variant_get_string (value, NULL), -1,
                                SQLITE_TRANSIENT);
      else
        {
          g_set_error (error, PRD_ERROR, PRD_ERROR_INTERNAL, "Cannot bind a %s",
                       g_variant_get_type_string (value));
          return FALSE;
        }
    check:
      if (rc != SQLITE_OK)
        return prd_sqlite_worker_set_error (worker, rc, "bind", error);
    }
  return TRUE;
}

static GVariant *
collect_row (sqlite3_stmt *stmt)
{
  GVariantBuilder builder;
  int n = sqlite3_column_count (stmt);

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("av"));
  for (int i = 0; i < n; i++)
    {
      GVariant *value;

      switch (sqlite3_column_type (stmt, i))
        {
          case SQLITE_INTEGER:
            value = g_variant_new_int64 (sqlite3_column_int64 (stmt, i));
            break;
          case SQLITE_NULL:
            value = g_variant_new_maybe (G_VARIANT_TYPE_STRING, NULL);
            break;
          default:
            value = g_variant_new_string ((const char *) sqlite3_column_text (stmt, i));
            break;
        }
      g_variant_builder_add (&builder, "v", value);
    }
  return g_variant_ref_sink (g_variant_builder_end (&builder));
}

static gboolean
run_op (PrdSqliteWorker *worker,
        gpointer data,
        gpointer *out_result,
        GDestroyNotify *result_free,
        GError **error)
{
  GPtrArray *stmts = data;
  g_autoptr (PrdSocialResult) result = g_new0 (PrdSocialResult, 1);
  sqlite3 *db = prd_sqlite_worker_get_db (worker);

  result->rows = g_ptr_array_new_with_free_func ((GDestroyNotify) g_variant_unref);
  for (guint i = 0; i < stmts->len; i++)
    {
      PrdSocialStmt *s = g_ptr_array_index (stmts, i);
      g_autoptr (PrdSqliteStmt) stmt = prd_sqlite_worker_prepare (worker, s->sql, error);
      int rc;

      if (stmt == NULL || !bind (worker, stmt, s->params, error))
        return FALSE;
      if (i + 1 == stmts->len)
        g_ptr_array_set_size (result->rows, 0);
      while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
        if (i + 1 == stmts->len)
          g_ptr_array_add (result->rows, collect_row (stmt));
      if (rc != SQLITE_DONE)
        return prd_sqlite_worker_set_error (worker, rc, "social", error);
      result->changes += sqlite3_changes (db);
    }
  *out_result = g_steal_pointer (&result);
  *result_free = (GDestroyNotify) prd_social_result_free;
  return TRUE;
}

void
prd_social_store_run_async (PrdSqliteStore *store,
                            gboolean write,
                            GPtrArray *stmts,
                            GCancellable *cancellable,
                            GAsyncReadyCallback callback,
                            gpointer user_data)
{
  prd_sqlite_store_run_async (store, write, run_op, stmts, (GDestroyNotify) g_ptr_array_unref,
                              prd_social_store_run_async, cancellable, callback, user_data);
}

PrdSocialResult *
prd_social_store_run_finish (PrdSqliteStore *store, GAsyncResult *result, GError **error)
{
  gpointer out = NULL;

  if (!prd_sqlite_store_run_finish (store, result, &out, error))
    return NULL;
  return out;
}

gint64
prd_social_row_int (GVariant *row, guint column)
{
  g_autoptr (GVariant) boxed = g_variant_get_child_value (row, column);
  g_autoptr (GVariant) value = g_variant_get_variant (boxed);

  return g_variant_is_of_type (value, G_VARIANT_TYPE_INT64) ? g_variant_get_int64 (value) : 0;
}

/* The string stays valid as long as @row. */
const char *
prd_social_row_str (GVariant *row, guint column)
{
  g_autoptr (GVariant) boxed = g_variant_get_child_value (row, column);
  g_autoptr (GVariant) value = g_variant_get_variant (boxed);

  if (!g_variant_is_of_type (value, G_VARIANT_TYPE_STRING))
    return NULL;
  /* The child is a view into @row's serialised data. */
  return g_variant_get_string (value, NULL);
}
