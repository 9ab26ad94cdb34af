/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * PrdNotificationStore on SQLite: the tables `social_notifications` and
 * `social_activity` (schema migration "social" in prd-sqlite-store.c).
 * Payloads are stored as the JSON text the hub hands over.
 *
 * Every read is a range of an index in `seq` order that stops at its
 * limit, however many notifications a user holds (they run on the store's
 * one worker thread, in front of every edit's commit): a user's unread
 * ones through social_notifications_unread (user_id, org, read, seq), all
 * of them through social_notifications_by_user (user_id, org, seq); mark-read
 * finds a row by its unique id. tests/test-store-features.c checks the
 * plans.
 *
 * Retention: each write that inserts activities then trims the feed of
 * each organization it wrote to, to its newest
 * PRD_NOTIFICATION_STORE_ACTIVITY_LIMIT rows (nothing else ever deleted
 * from social_activity, and an organization with Craft.io polling added a
 * row per poll), and each write that inserts notifications trims those of
 * each user it wrote to, in that organization, to their newest
 * PRD_NOTIFICATION_STORE_NOTIFICATION_LIMIT, read or not (nothing else
 * deleted them either). Finding the oldest row to keep walks that many
 * entries of social_activity_by_org (org, seq) or
 * social_notifications_by_user (user_id, org, seq): about 0.2 ms with
 * SQLite 3.40 on the shared development machine, once per key per write,
 * against the fsync of the commit that follows. A write deletes at most
 * TRIM_BACKLOG rows more than it inserted, in all its keys together (not
 * per key: a version notifying 500 editors who each held an older
 * release's backlog deleted 282,000 rows in one commit), oldest first: the feed of an
 * upgraded hub (a million rows of polls) is brought down over many writes
 * rather than in one transaction that held every organization's edits
 * for seconds (5.4 s for a million activities) and wrote every freed page into
 * the WAL (secure_delete).
 */
#define G_LOG_DOMAIN "prd-store"

#include "config.h"

#include "prd-error.h"
#include "prd-sqlite-store-private.h"

/* ---- shared with the stores whose changes announce themselves ---- */

/* How many rows of a backlog a write may delete beyond those it inserted. */
#define TRIM_BACKLOG 64

/* What a trim keeps: the newest @limit rows of one key (an organization's
 * feed, a user's notifications in an organization), walked through the
 * index that leads with the key's columns and ends with seq. Each
 * statement binds the key's @n_keys columns first. */
typedef struct
{
  const char *what; /* for errors */
  guint n_keys;
  guint limit;
  const char *oldest_kept; /* key..., offset: the oldest row to keep */
  const char *cut;         /* key..., seq, offset: where a bounded cut ends */
  const char *trim;        /* key..., seq: deletes the rows before it */
} Trim;

static const Trim activity_trim = {
  "Cannot trim the activity feed",
  1,
  PRD_NOTIFICATION_STORE_ACTIVITY_LIMIT,
  "SELECT seq FROM social_activity WHERE org = ? ORDER BY seq DESC LIMIT 1 OFFSET ?",
  "SELECT seq FROM social_activity WHERE org = ? AND seq < ? ORDER BY seq LIMIT 1 OFFSET ?",
  "DELETE FROM social_activity WHERE org = ? AND seq < ?",
};

static const Trim notification_trim = {
  "Cannot trim the notifications",
  2,
  PRD_NOTIFICATION_STORE_NOTIFICATION_LIMIT,
  "SELECT seq FROM social_notifications WHERE user_id = ? AND org = ? "
  "ORDER BY seq DESC LIMIT 1 OFFSET ?",
  "SELECT seq FROM social_notifications WHERE user_id = ? AND org = ? AND seq < ? "
  "ORDER BY seq LIMIT 1 OFFSET ?",
  "DELETE FROM social_notifications WHERE user_id = ? AND org = ? AND seq < ?",
};

/* Deletes what @keys hold beyond the newest @trim->limit rows, at most
 * @max of them, the oldest; @deleted: how many went. */
static gboolean
trim_oldest (PrdSqliteWorker *worker,
             const Trim *trim,
             const char *const *keys,
             guint max,
             guint *deleted,
             GError **error)
{
  g_autoptr (PrdSqliteStmt) oldest_kept = NULL;
  g_autoptr (PrdSqliteStmt) cut = NULL;
  g_autoptr (PrdSqliteStmt) delete = NULL;
  const guint n = trim->n_keys;
  gint64 seq;
  int rc;

  *deleted = 0;
  oldest_kept = prd_sqlite_worker_prepare (worker, trim->oldest_kept, error);
  if (oldest_kept == NULL)
    return FALSE;
  for (guint i = 0; i < n; i++)
    prd_sqlite_bind_text (oldest_kept, i + 1, keys[i]);
  sqlite3_bind_int64 (oldest_kept, n + 1, trim->limit - 1);
  rc = sqlite3_step (oldest_kept);
  if (rc == SQLITE_DONE)
    return TRUE; /* fewer than the limit */
  if (rc != SQLITE_ROW)
    return prd_sqlite_worker_set_error (worker, rc, trim->what, error);
  seq = sqlite3_column_int64 (oldest_kept, 0);
  /* At most @max of the rows before it: the one @max places up from the
   * oldest ends the range, when there is one. */
  cut = prd_sqlite_worker_prepare (worker, trim->cut, error);
  if (cut == NULL)
    return FALSE;
  for (guint i = 0; i < n; i++)
    prd_sqlite_bind_text (cut, i + 1, keys[i]);
  sqlite3_bind_int64 (cut, n + 1, seq);
  sqlite3_bind_int64 (cut, n + 2, max);
  rc = sqlite3_step (cut);
  if (rc == SQLITE_ROW)
    seq = sqlite3_column_int64 (cut, 0);
  else if (rc != SQLITE_DONE)
    return prd_sqlite_worker_set_error (worker, rc, trim->what, error);
  delete = prd_sqlite_worker_prepare (worker, trim->trim, error);
  if (delete == NULL)
    return FALSE;
  for (guint i = 0; i < n; i++)
    prd_sqlite_bind_text (delete, i + 1, keys[i]);
  sqlite3_bind_int64 (delete, n + 1, seq);
  if (!prd_sqlite_worker_step_done (worker, delete, error))
    return FALSE;
  *deleted = (guint) sqlite3_changes (sqlite3_db_handle (delete));
  return TRUE;
}

/* Trims one key that a write inserted @inserted rows into: those, plus
 * what is left of the write's @backlog (shared by every key it trims, so
 * that a write to many keys deletes at most TRIM_BACKLOG old rows in all,
 * not that many per key), which it takes from. */
static gboolean
trim_key (PrdSqliteWorker *worker,
          const Trim *trim,
          const char *const *keys,
          guint inserted,
          guint *backlog,
          GError **error)
{
  guint deleted;

  if (!trim_oldest (worker, trim, keys, inserted + *backlog, &deleted, error))
    return FALSE;
  if (deleted > inserted)
    *backlog -= MIN (*backlog, deleted - inserted);
  return TRUE;
}

gboolean
prd_sqlite_worker_insert_announcements (PrdSqliteWorker *worker,
                                        GPtrArray *notifications,
                                        GPtrArray *activities,
                                        GError **error)
{
  guint backlog;

  for (guint i = 0; notifications != NULL && i < notifications->len; i++)
    {
      const PrdNotificationRecord *n = g_ptr_array_index (notifications, i);
      g_autoptr (PrdSqliteStmt) stmt =
          prd_sqlite_worker_prepare (worker,
                                     "INSERT INTO social_notifications (id, user_id, org, payload) "
                                     "VALUES (?, ?, ?, ?)",
                                     error);

      if (stmt == NULL)
        return FALSE;
      prd_sqlite_bind_text (stmt, 1, n->id);
      prd_sqlite_bind_text (stmt, 2, n->user_id);
      prd_sqlite_bind_text (stmt, 3, n->org);
      prd_sqlite_bind_text (stmt, 4, n->payload);
      if (!prd_sqlite_worker_step_done (worker, stmt, error))
        return FALSE;
    }
  for (guint i = 0; activities != NULL && i < activities->len; i++)
    {
      const PrdActivityRecord *a = g_ptr_array_index (activities, i);
      g_autoptr (PrdSqliteStmt) stmt = prd_sqlite_worker_prepare (
          worker, "INSERT INTO social_activity (id, org, payload) VALUES (?, ?, ?)", error);

      if (stmt == NULL)
        return FALSE;
      prd_sqlite_bind_text (stmt, 1, a->id);
      prd_sqlite_bind_text (stmt, 2, a->org);
      prd_sqlite_bind_text (stmt, 3, a->payload);
      if (!prd_sqlite_worker_step_done (worker, stmt, error))
        return FALSE;
    }
  backlog = TRIM_BACKLOG;
  for (guint i = 0; notifications != NULL && i < notifications->len; i++)
    {
      const PrdNotificationRecord *n = g_ptr_array_index (notifications, i);
      const char *keys[] = { n->user_id, n->org };
      gboolean seen = FALSE;
      guint inserted = 1;

      /* Once per user and organization, counting what the write gives them
       * (a write's notifications are one per user it concerns: a comment
       * mentioning 500 users compares 125,000 pairs of short strings). */
      for (guint j = 0; j < notifications->len && !seen; j++)
        {
          const PrdNotificationRecord *m = g_ptr_array_index (notifications, j);

          if (j == i || !g_str_equal (m->user_id, n->user_id) || !g_str_equal (m->org, n->org))
            continue;
          if (j < i)
            seen = TRUE;
          else
            inserted++;
        }
      if (!seen && !trim_key (worker, &notification_trim, keys, inserted, &backlog, error))
        return FALSE;
    }
  backlog = TRIM_BACKLOG;
  for (guint i = 0; activities != NULL && i < activities->len; i++)
    {
      const PrdActivityRecord *a = g_ptr_array_index (activities, i);
      const char *keys[] = { a->org };
      gboolean seen = FALSE;
      guint inserted = 1;

      /* Once per organization (a write's activities are few). */
      for (guint j = 0; j < activities->len && !seen; j++)
        {
          const PrdActivityRecord *b = g_ptr_array_index (activities, j);

          if (j == i || !g_str_equal (b->org, a->org))
            continue;
          if (j < i)
            seen = TRUE;
          else
            inserted++;
        }
      if (!seen && !trim_key (worker, &activity_trim, keys, inserted, &backlog, error))
        return FALSE;
    }
  return TRUE;
}

/* ---- record ---- */

typedef struct
{
  GPtrArray *notifications; /* (owned) */
  GPtrArray *activities;    /* (owned) */
} Record;

static void
record_free (Record *record)
{
  g_ptr_array_unref (record->notifications);
  g_ptr_array_unref (record->activities);
  g_free (record);
}

static gboolean
op_record (PrdSqliteWorker *worker,
           gpointer data,
           gpointer *result,
           GDestroyNotify *result_free,
           GError **error)
{
  Record *record = data;

  return prd_sqlite_worker_insert_announcements (worker, record->notifications, record->activities,
                                                 error);
}

static void
record_async (PrdNotificationStore *self,
              GPtrArray *notifications,
              GPtrArray *activities,
              GCancellable *cancellable,
              GAsyncReadyCallback callback,
              gpointer user_data)
{
  Record *record = g_new0 (Record, 1);

  record->notifications = g_ptr_array_ref (notifications);
  record->activities = g_ptr_array_ref (activities);
  prd_sqlite_store_run_async (PRD_SQLITE_STORE (self), TRUE, op_record, record,
                              (GDestroyNotify) record_free, record_async, cancellable, callback,
                              user_data);
}

static gboolean
record_finish (PrdNotificationStore *self, GAsyncResult *result, GError **error)
{
  return prd_sqlite_store_run_finish (PRD_SQLITE_STORE (self), result, NULL, error);
}

/* ---- unread notifications ---- */

typedef struct
{
  char *org;
  char *user_id;
  gint64 before; /* the activity feed's cursor */
  gint64 limit;
  GStrv ids;            /* mark-read */
  gboolean unread_only; /* list */
} Query;

static void
query_free (Query *query)
{
  g_free (query->org);
  g_free (query->user_id);
  g_strfreev (query->ids);
  g_free (query);
}

/* Runs @stmt (columns seq, id, user_id, org, payload, read) and hands its
 * rows over as a GPtrArray of PrdNotificationRecord. */
static gboolean
read_records (PrdSqliteWorker *worker,
              PrdSqliteStmt *stmt,
              gpointer *result,
              GDestroyNotify *result_free,
              GError **error)
{
  g_autoptr (GPtrArray) records =
      g_ptr_array_new_with_free_func ((GDestroyNotify) prd_notification_record_free);
  int rc;

  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      PrdNotificationRecord *record = g_new0 (PrdNotificationRecord, 1);

      record->seq = sqlite3_column_int64 (stmt, 0);
      record->id = prd_sqlite_column_text (stmt, 1);
      record->user_id = prd_sqlite_column_text (stmt, 2);
      record->org = prd_sqlite_column_text (stmt, 3);
      record->payload = prd_sqlite_column_text (stmt, 4);
      record->read = sqlite3_column_int (stmt, 5) != 0;
      g_ptr_array_add (records, record);
    }
  if (rc != SQLITE_DONE)
    return prd_sqlite_worker_set_error (worker, rc, "Cannot read the notifications", error);
  *result = g_steal_pointer (&records);
  *result_free = (GDestroyNotify) g_ptr_array_unref;
  return TRUE;
}

static gboolean
op_list_unread (PrdSqliteWorker *worker,
                gpointer data,
                gpointer *result,
                GDestroyNotify *result_free,
                GError **error)
{
  Query *query = data;
  g_autoptr (PrdSqliteStmt) stmt = prd_sqlite_worker_prepare (
      worker,
      "SELECT seq, id, user_id, org, payload, read FROM social_notifications "
      "WHERE user_id = ? AND org = ? AND read = 0 ORDER BY seq LIMIT ?",
      error);

  if (stmt == NULL)
    return FALSE;
  prd_sqlite_bind_text (stmt, 1, query->user_id);
  prd_sqlite_bind_text (stmt, 2, query->org);
  sqlite3_bind_int64 (stmt, 3, query->limit);
  return read_records (worker, stmt, result, result_free, error);
}

static void
list_unread_async (PrdNotificationStore *self,
                   const char *org,
                   const char *user_id,
                   guint limit,
                   GCancellable *cancellable,
                   GAsyncReadyCallback callback,
                   gpointer user_data)
{
  Query *query = g_new0 (Query, 1);

  query->org = g_strdup (org);
  query->user_id = g_strdup (user_id);
  query->limit = limit;
  prd_sqlite_store_run_async (PRD_SQLITE_STORE (self), FALSE, op_list_unread, query,
                              (GDestroyNotify) query_free, list_unread_async, cancellable, callback,
                              user_data);
}

static GPtrArray *
list_finish (PrdNotificationStore *self, GAsyncResult *result, GError **error)
{
  gpointer records = NULL;

  if (!prd_sqlite_store_run_finish (PRD_SQLITE_STORE (self), result, &records, error))
    return NULL;
  return records;
}

/* ---- every notification, newest first (REST) ---- */

static gboolean
op_list (PrdSqliteWorker *worker,
         gpointer data,
         gpointer *result,
         GDestroyNotify *result_free,
         GError **error)
{
  Query *query = data;
  g_autoptr (PrdSqliteStmt) stmt = NULL;

  /* Two statements, each a range of an index walked newest first that
   * stops at the limit: every notification through
   * social_notifications_by_user, the unread ones through
   * social_notifications_unread with `read = 0` as an equality. One
   * statement with `(? = 0 OR read = 0)` could use neither for the order
   * and sorted all of the user's notifications for every page. */
  if (query->unread_only)
    stmt = prd_sqlite_worker_prepare (worker,
                                      "SELECT seq, id, user_id, org, payload, read "
                                      "FROM social_notifications WHERE user_id = ? AND org = ? "
                                      "AND read = 0 AND seq < ? ORDER BY seq DESC LIMIT ?",
                                      error);
  else
    stmt = prd_sqlite_worker_prepare (worker,
                                      "SELECT seq, id, user_id, org, payload, read "
                                      "FROM social_notifications WHERE user_id = ? AND org = ? "
                                      "AND seq < ? ORDER BY seq DESC LIMIT ?",
                                      error);
  if (stmt == NULL)
    return FALSE;
  prd_sqlite_bind_text (stmt, 1, query->user_id);
  prd_sqlite_bind_text (stmt, 2, query->org);
  sqlite3_bind_int64 (stmt, 3, query->before);
  sqlite3_bind_int64 (stmt, 4, query->limit);
  return read_records (worker, stmt, result, result_free, error);
}

static void
list_async (PrdNotificationStore *self,
            const char *org,
            const char *user_id,
            gboolean unread_only,
            gint64 before,
            guint limit,
            GCancellable *cancellable,
            GAsyncReadyCallback callback,
            gpointer user_data)
{
  Query *query = g_new0 (Query, 1);

  query->org = g_strdup (org);
  query->user_id = g_strdup (user_id);
  query->unread_only = unread_only;
  query->before = before;
  query->limit = limit;
  prd_sqlite_store_run_async (PRD_SQLITE_STORE (self), FALSE, op_list, query,
                              (GDestroyNotify) query_free, list_async, cancellable, callback,
                              user_data);
}

/* ---- mark-read ---- */

static gboolean
op_mark_read (PrdSqliteWorker *worker,
              gpointer data,
              gpointer *result,
              GDestroyNotify *result_free,
              GError **error)
{
  Query *query = data;
  gint64 *marked = g_new0 (gint64, 1);

  *result = marked;
  *result_free = g_free;
  for (guint i = 0; query->ids[i] != NULL; i++)
    {
      g_autoptr (PrdSqliteStmt) stmt =
          prd_sqlite_worker_prepare (worker,
                                     "UPDATE social_notifications SET read = 1 WHERE id = ? "
                                     "AND user_id = ? AND org = ? AND read = 0",
                                     error);

      if (stmt == NULL)
        return FALSE;
      prd_sqlite_bind_text (stmt, 1, query->ids[i]);
      prd_sqlite_bind_text (stmt, 2, query->user_id);
      prd_sqlite_bind_text (stmt, 3, query->org);
      if (!prd_sqlite_worker_step_done (worker, stmt, error))
        return FALSE;
      *marked += sqlite3_changes (prd_sqlite_worker_get_db (worker));
    }
  return TRUE;
}

static void
mark_read_async (PrdNotificationStore *self,
                 const char *org,
                 const char *user_id,
                 const char *const *ids,
                 GCancellable *cancellable,
                 GAsyncReadyCallback callback,
                 gpointer user_data)
{
  Query *query = g_new0 (Query, 1);

  query->org = g_strdup (org);
  query->user_id = g_strdup (user_id);
  query->ids = g_strdupv ((char **) ids);
  prd_sqlite_store_run_async (PRD_SQLITE_STORE (self), TRUE, op_mark_read, query,
                              (GDestroyNotify) query_free, mark_read_async, cancellable, callback,
                              user_data);
}

static gint64
mark_read_finish (PrdNotificationStore *self, GAsyncResult *result, GError **error)
{
  g_autofree gint64 *marked = NULL;

  if (!prd_sqlite_store_run_finish (PRD_SQLITE_STORE (self), result, (gpointer *) &marked, error))
    return -1;
  return marked != NULL ? *marked : 0;
}

/* ---- the activity feed ---- */

static gboolean
op_list_activity (PrdSqliteWorker *worker,
                  gpointer data,
                  gpointer *result,
                  GDestroyNotify *result_free,
                  GError **error)
{
  Query *query = data;
  g_autoptr (GPtrArray) records =
      g_ptr_array_new_with_free_func ((GDestroyNotify) prd_activity_record_free);
  g_autoptr (PrdSqliteStmt) stmt =
      prd_sqlite_worker_prepare (worker,
                                 "SELECT seq, id, org, payload FROM social_activity "
                                 "WHERE org = ? AND seq < ? ORDER BY seq DESC LIMIT ?",
                                 error);
  int rc;

  if (stmt == NULL)
    return FALSE;
  prd_sqlite_bind_text (stmt, 1, query->org);
  sqlite3_bind_int64 (stmt, 2, query->before);
  sqlite3_bind_int64 (stmt, 3, query->limit);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      PrdActivityRecord *record = g_new0 (PrdActivityRecord, 1);

      record->seq = sqlite3_column_int64 (stmt, 0);
      record->id = prd_sqlite_column_text (stmt, 1);
      record->org = prd_sqlite_column_text (stmt, 2);
      record->payload = prd_sqlite_column_text (stmt, 3);
      g_ptr_array_add (records, record);
    }
  if (rc != SQLITE_DONE)
    return prd_sqlite_worker_set_error (worker, rc, "Cannot read the activity feed", error);
  *result = g_steal_pointer (&records);
  *result_free = (GDestroyNotify) g_ptr_array_unref;
  return TRUE;
}

static void
list_activity_async (PrdNotificationStore *self,
                     const char *org,
                     gint64 before,
                     guint limit,
                     GCancellable *cancellable,
                     GAsyncReadyCallback callback,
                     gpointer user_data)
{
  Query *query = g_new0 (Query, 1);

  query->org = g_strdup (org);
  query->before = before;
  query->limit = limit;
  prd_sqlite_store_run_async (PRD_SQLITE_STORE (self), FALSE, op_list_activity, query,
                              (GDestroyNotify) query_free, list_activity_async, cancellable,
                              callback, user_data);
}

void
prd_sqlite_store_notification_store_iface_init (PrdNotificationStoreInterface *iface)
{
  iface->record_async = record_async;
  iface->record_finish = record_finish;
  iface->list_unread_async = list_unread_async;
  iface->list_unread_finish = list_finish;
  iface->mark_read_async = mark_read_async;
  iface->mark_read_finish = mark_read_finish;
  iface->list_activity_async = list_activity_async;
  iface->list_activity_finish = list_finish;
  iface->list_async = list_async;
  iface->list_finish = list_finish;
}
