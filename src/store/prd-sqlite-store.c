/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * PrdSqliteStore: the SQLite (WAL) implementation of PrdStore.
 *
 * Threading. One worker thread owns the sqlite3 connection; no other thread
 * ever touches it, so the connection is opened without SQLite's own mutexes.
 * The main context never waits for the disk: an operation becomes a Request
 * (its arguments copied, its GTask attached) and goes to the worker through
 * a GAsyncQueue. The worker never returns a GTask itself: it posts the
 * finished requests back to the store's main context in one idle source, and
 * the tasks are returned (and their last references dropped) there. That
 * keeps callbacks in submission order and guarantees that the store, which
 * every task references, is never finalized on the worker thread (which
 * would have to join itself).
 *
 * Group commit. Requests made during one main-loop iteration are collected
 * in `pending` and handed to the worker as one batch by an idle source at
 * default priority, i.e. at the start of the next iteration. The worker runs
 * a batch inside one BEGIN IMMEDIATE … COMMIT, and before committing it also
 * takes every batch that arrived meanwhile (up to MAX_GROUP requests), so
 * under load the number of fsyncs follows the number of main-loop
 * iterations, not the number of updates. Each write runs inside its own
 * SAVEPOINT: a request that fails (a duplicate id, an unknown site) is rolled
 * back alone and reports its error, the others still commit. Every request's
 * callback fires only after the COMMIT of its transaction returned. If the
 * group fails as a whole (the COMMIT fails, or the database rolls the
 * transaction back: a full disk, an I/O error), its updates and snapshots
 * fail with it (a room takes nothing behind a failed update as stored), and
 * each of its other requests runs again alone, in a transaction of its
 * own, and reports that outcome: a read is answered, a write that fits
 * still commits, and no result comes from the rolled-back transaction.
 *
 * Durability. journal_mode=WAL with synchronous=FULL: the WAL is fsynced at
 * every commit, so an acknowledged update survives kill -9 and power loss
 * (NORMAL would only survive a process crash). bench-store prints what that
 * costs per commit; grouping is what makes it affordable.
 *
 * Space. A reader that holds the WAL (a backup, a long read) lets it grow
 * past the automatic checkpoint's 1,000 pages, and SQLite keeps a WAL file
 * at its largest size until the last connection closes: 24 MB stayed for
 * the 18 minutes an audit watched. `journal_size_limit`
 * (PRD_SQLITE_STORE_WAL_LIMIT) makes the first commit after a checkpoint
 * that emptied it cut it back. `secure_delete` is set on, not left to how
 * SQLite was built (Debian's turns it on, upstream's does not): a deleted
 * PRD's text is overwritten with zeros in the database, not left in free
 * pages. The file never shrinks (no auto_vacuum): free pages are reused;
 * docs/durability.md says how an operator gets them back.
 *
 * Interfaces. Besides PrdStore, the store implements one interface per
 * feature that keeps tables here (comments, approvals, notifications and
 * activity, conflicts, AI jobs, versions), each in its own
 * prd-sqlite-store-<concern>.c through prd-sqlite-store-private.h.
 *
 * Snapshots. A snapshot request carries a function that makes its bytes
 * (prd_store_write_snapshot_packed_async()), which compresses a document's
 * state: milliseconds for a large PRD. Nothing waits for it: the batch hands
 * each snapshot to the packer, a thread of its own, which calls the
 * function and then queues the request for the worker, while the batch's
 * other requests go to the worker at once. So a snapshot's callback comes
 * after those of the requests made while it was packed; snapshots stay in
 * order among themselves. What must not overtake one — closing the store,
 * deleting a PRD, and everything asked for after either — goes through the
 * packer too, behind the snapshots it packs (a barrier).
 *
 * Cancellation is honoured while a request is still queued; once the worker
 * has run it, the result reports what happened, because a committed update
 * reported as cancelled would be sent again and stored twice.
 */
#define G_LOG_DOMAIN "prd-store"

#include "config.h"

#include <errno.h>
#include <sqlite3.h>

#include "prd-autocleanups.h"
#include "prd-error.h"
#include "prd-metrics.h"
#include "prd-private-file.h"
#include "prd-sqlite-store-private.h"

#define MAX_GROUP             4096
#define BUSY_TIMEOUT_MS       5000
#define GENERATED_ID_TRIES    4
#define PRDHUB_APPLICATION_ID 0x50524448 /* "PRDH" */

/*
 * Schema. migrations[i] takes a database from user_version i to i + 1; they
 * run in one transaction at open. To change the schema, append a migration;
 * never edit one that has shipped.
 *
 * The PRDs' tables (version 1, snapshots moved out of prds in the last
 * migration):
 *   prds         one row per PRD, small columns only. Times are
 *                microseconds since the Unix epoch. `snapshot_seq` is the
 *                update the PRD's snapshot was taken after (0: none);
 *                `last_seq` is the last update's seq, kept here so that seqs
 *                stay gap-free after compaction.
 *   prd_snapshots  the encoded CRDT state (opaque) after update snapshot_seq,
 *                for PRDs that have one. Kept apart so that the row every
 *                append reads and rewrites stays a few dozen bytes.
 *   prd_updates  the update log: seq 1, 2, … per PRD without gaps; rows up
 *                to snapshot_seq may be compacted away. (site, clock) is the
 *                CRDT id of the update and unique within a PRD.
 *   prd_sites    the sites handed out per PRD, the user each belongs to and
 *                the highest clock stored for it, so that a user can continue
 *                on their site after a restart; `holder` is the replica
 *                (join-prd's replicaId) that took it over last, when its
 *                operation count was `holder_from`; a `retired` site is
 *                never handed out again.
 */
static const char *const migrations[] = {
  /* 0 → 1 */
  "CREATE TABLE prds ("
  "  id TEXT PRIMARY KEY NOT NULL,"
  "  org TEXT NOT NULL,"
  "  title TEXT NOT NULL,"
  "  version TEXT NOT NULL DEFAULT '0.1.0',"
  "  owner TEXT NOT NULL,"
  "  created_at INTEGER NOT NULL,"
  "  updated_at INTEGER NOT NULL,"
  "  snapshot BLOB,"
  "  snapshot_seq INTEGER NOT NULL DEFAULT 0,"
  "  last_seq INTEGER NOT NULL DEFAULT 0"
  ");"
  "CREATE INDEX prds_by_org ON prds (org, created_at, id);"
  "CREATE TABLE prd_updates ("
  "  prd_id TEXT NOT NULL REFERENCES prds (id) ON DELETE CASCADE,"
  "  seq INTEGER NOT NULL,"
  "  site INTEGER NOT NULL,"
  "  clock INTEGER NOT NULL,"
  "  user_id TEXT NOT NULL,"
  "  payload BLOB NOT NULL,"
  "  created_at INTEGER NOT NULL,"
  "  PRIMARY KEY (prd_id, seq)"
  ") WITHOUT ROWID;"
  "CREATE UNIQUE INDEX prd_updates_by_id ON prd_updates (prd_id, site, clock);"
  "CREATE TABLE prd_sites ("
  "  prd_id TEXT NOT NULL REFERENCES prds (id) ON DELETE CASCADE,"
  "  site INTEGER NOT NULL,"
  "  user_id TEXT NOT NULL,"
  "  clock INTEGER NOT NULL DEFAULT 0,"
  "  created_at INTEGER NOT NULL,"
  "  PRIMARY KEY (prd_id, site)"
  ") WITHOUT ROWID;"
  "CREATE INDEX prd_sites_by_user ON prd_sites (prd_id, user_id, site);",
  /* versions (prd-sqlite-store-versions.c): one row per created version, in the
   * order they were created (rowid); commit_hash names the git commit. */
  "CREATE TABLE versions ("
  "  id TEXT PRIMARY KEY NOT NULL,"
  "  prd_id TEXT NOT NULL REFERENCES prds (id) ON DELETE CASCADE,"
  "  version TEXT NOT NULL,"
  "  commit_hash TEXT NOT NULL,"
  "  changelog TEXT NOT NULL,"
  "  created_by_id TEXT NOT NULL,"
  "  created_by_name TEXT NOT NULL,"
  "  created_at INTEGER NOT NULL,"
  "  UNIQUE (prd_id, version)"
  ");",
  /* social: comments, notifications, approvals, activity
   * (prd-sqlite-store-comments.c, -approvals.c, -notifications.c) */
  "CREATE TABLE social_comments ("
  "  id TEXT PRIMARY KEY NOT NULL,"
  "  prd_id TEXT NOT NULL REFERENCES prds (id) ON DELETE CASCADE,"
  "  org TEXT NOT NULL,"
  "  author_id TEXT NOT NULL,"
  "  author_name TEXT NOT NULL,"
  "  author_avatar TEXT,"
  "  content TEXT NOT NULL,"
  "  anchor TEXT NOT NULL,"
  "  created_at INTEGER NOT NULL,"
  "  resolved_by_id TEXT,"
  "  resolved_by_name TEXT,"
  "  resolved_at INTEGER"
  ");"
  "CREATE INDEX social_comments_by_prd ON social_comments (prd_id, created_at);"
  "CREATE TABLE social_replies ("
  "  id TEXT PRIMARY KEY NOT NULL,"
  "  comment_id TEXT NOT NULL REFERENCES social_comments (id) ON DELETE CASCADE,"
  "  author_id TEXT NOT NULL,"
  "  author_name TEXT NOT NULL,"
  "  content TEXT NOT NULL,"
  "  created_at INTEGER NOT NULL"
  ");"
  "CREATE INDEX social_replies_by_comment ON social_replies (comment_id, created_at);"
  "CREATE TABLE social_notifications ("
  "  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
  "  id TEXT UNIQUE NOT NULL,"
  "  user_id TEXT NOT NULL,"
  "  org TEXT NOT NULL,"
  "  payload TEXT NOT NULL,"
  "  read INTEGER NOT NULL DEFAULT 0"
  ");"
  "CREATE INDEX social_notifications_unread ON social_notifications (user_id, org, read, seq);"
  "CREATE TABLE social_approvals ("
  "  prd_id TEXT NOT NULL REFERENCES prds (id) ON DELETE CASCADE,"
  "  approver_id TEXT NOT NULL,"
  "  approver_name TEXT NOT NULL,"
  "  comment TEXT,"
  "  created_at INTEGER NOT NULL"
  ");"
  "CREATE TABLE social_activity ("
  "  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
  "  id TEXT UNIQUE NOT NULL,"
  "  org TEXT NOT NULL,"
  "  payload TEXT NOT NULL"
  ");"
  "CREATE INDEX social_activity_by_org ON social_activity (org, seq);",
  /* AI jobs (prd-sqlite-store-ai.c) */
  "CREATE TABLE ai_jobs ("
  "  id TEXT PRIMARY KEY NOT NULL,"
  "  prd_id TEXT NOT NULL,"
  "  user_id TEXT NOT NULL,"
  "  prompt TEXT NOT NULL,"
  "  section TEXT,"
  "  state TEXT NOT NULL,"
  "  tokens INTEGER NOT NULL DEFAULT 0,"
  "  duration INTEGER NOT NULL DEFAULT 0,"
  "  error_code TEXT,"
  "  error_message TEXT,"
  "  created_at INTEGER NOT NULL,"
  "  updated_at INTEGER NOT NULL"
  ");"
  "CREATE INDEX ai_jobs_by_state ON ai_jobs (state);",
  /* Open conflicts (prd-sqlite-store-conflicts.c); resolved ones are deleted */
  "CREATE TABLE conflicts ("
  "  id TEXT PRIMARY KEY NOT NULL,"
  "  prd_id TEXT NOT NULL REFERENCES prds (id) ON DELETE CASCADE,"
  "  position INTEGER NOT NULL,"
  "  created_at INTEGER NOT NULL,"
  "  parties TEXT NOT NULL"
  ");"
  "CREATE INDEX conflicts_by_prd ON conflicts (prd_id);",
  /* Managing PRDs (prd-sqlite-store-manage.c): when a PRD was archived,
   * 0 while it is not. */
  "ALTER TABLE prds ADD COLUMN archived_at INTEGER NOT NULL DEFAULT 0;",
  /* Token revocations (prd-sqlite-store-revocations.c): one row per user */
  "CREATE TABLE token_revocations ("
  "  org TEXT NOT NULL,"
  "  user_id TEXT NOT NULL,"
  "  revoked_at INTEGER NOT NULL,"
  "  PRIMARY KEY (org, user_id)"
  ");",
  /* Integrations (prd-sqlite-store-integrations.c): settings without their
   * secrets, item links, webhook deliveries already handled */
  "CREATE TABLE integration_settings ("
  "  org TEXT NOT NULL,"
  "  service TEXT NOT NULL,"
  "  settings TEXT NOT NULL,"
  "  updated_at INTEGER NOT NULL,"
  "  PRIMARY KEY (org, service)"
  ");"
  "CREATE TABLE integration_links ("
  "  org TEXT NOT NULL,"
  "  service TEXT NOT NULL,"
  "  prd_id TEXT NOT NULL,"
  "  remote_key TEXT NOT NULL,"
  "  remote_id TEXT,"
  "  url TEXT,"
  "  title TEXT NOT NULL,"
  "  digest TEXT NOT NULL,"
  "  position INTEGER NOT NULL,"
  "  status TEXT,"
  "  updated_at INTEGER NOT NULL,"
  "  PRIMARY KEY (org, service, remote_key)"
  ");"
  "CREATE INDEX integration_links_by_prd ON integration_links (org, service, prd_id);"
  "CREATE TABLE integration_deliveries ("
  "  org TEXT NOT NULL,"
  "  service TEXT NOT NULL,"
  "  delivery_id TEXT NOT NULL,"
  "  received_at INTEGER NOT NULL,"
  "  PRIMARY KEY (org, service, delivery_id)"
  ");",
  /* Snapshots in a table of their own. In prds, every append's read of the
   * PRD's row and its rewrite of last_seq went through the snapshot's
   * overflow pages: the bigger the PRD, the dearer each edit. */
  "CREATE TABLE prd_snapshots ("
  "  prd_id TEXT PRIMARY KEY NOT NULL REFERENCES prds (id) ON DELETE CASCADE,"
  "  state BLOB NOT NULL"
  ");"
  "INSERT INTO prd_snapshots (prd_id, state)"
  "  SELECT id, snapshot FROM prds WHERE snapshot IS NOT NULL;"
  "ALTER TABLE prds DROP COLUMN snapshot;",
  /* Sign-in links already used (prd-sqlite-store-revocations.c): a link
   * opens one session; rows go once the link has expired. */
  "CREATE TABLE sign_in_links ("
  "  link_id TEXT PRIMARY KEY NOT NULL,"
  "  expires_at INTEGER NOT NULL"
  ") WITHOUT ROWID;",
  /* Which replica holds a site, and since which operation (prd-store.c,
   * prd_store_hold_site_async()). Sites from before are held by nobody
   * since their first operation: a replica that comes back to one with
   * operations gets a fresh site, once. */
  ("ALTER TABLE prd_sites ADD COLUMN holder TEXT;"
   "ALTER TABLE prd_sites ADD COLUMN holder_from INTEGER NOT NULL DEFAULT 0;"),
  /* Sites never handed out again (prd_store_retire_sites_async()). Those
   * of a folder from before are retired: a prdhub that old cannot show that
   * it stopped cleanly (before the lock file, a crash left no trace), and
   * operations it handed out and then lost would come back with other
   * text under the same ids. */
  ("ALTER TABLE prd_sites ADD COLUMN retired INTEGER NOT NULL DEFAULT 0;"
   "UPDATE prd_sites SET retired = 1;"),
  /* Webhook deliveries are remembered per organization
   * (prd-sqlite-store-integrations.c): `seq` numbers one organization's
   * deliveries 1, 2, … in the order they came, so that forgetting its
   * oldest is a range of an index and never touches another's. */
  ("ALTER TABLE integration_deliveries ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;"
   "UPDATE integration_deliveries SET seq = numbered.n FROM ("
   "  SELECT rowid AS id, row_number () OVER (PARTITION BY org ORDER BY rowid) AS n"
   "  FROM integration_deliveries) AS numbered"
   "  WHERE integration_deliveries.rowid = numbered.id;"
   "CREATE INDEX integration_deliveries_by_org ON integration_deliveries (org, seq);"),
  /* Lists read a page at a time (prd-sqlite-store-manage.c,
   * prd-sqlite-store-versions.c): an organization's PRDs archived or not
   * in creation order, and a PRD's versions in the order they were
   * recorded (rowid), each page a range of an index, however long the
   * list. */
  ("CREATE INDEX prds_by_org_archived ON prds (org, archived_at != 0, created_at, id);"
   "CREATE INDEX versions_by_prd ON versions (prd_id);"),
  /* A user's notifications newest first, read or not
   * (prd-sqlite-store-notifications.c): a range of this index in seq
   * order, where social_notifications_unread (user_id, org, read, seq)
   * left every page to sort all of the user's rows. */
  "CREATE INDEX social_notifications_by_user ON social_notifications (user_id, org, seq);",
  /* When the service sent the webhook delivery that last set a link's
   * status (prd-sqlite-store-integrations.c): an older delivery arriving
   * later, or a sync that read the link before, does not set it back. */
  "ALTER TABLE integration_links ADD COLUMN status_at INTEGER NOT NULL DEFAULT 0;",
  /* A user's AI jobs in the order they were last recorded
   * (prd-sqlite-store-ai.c): each new job trims the user's ended ones to
   * the newest PRD_AI_JOB_STORE_USER_LIMIT through a range of this index
   * (its entries end with the rowid). A user is an organization and a user
   * id; rows from before name their PRD's organization, or none when the
   * PRD is gone. */
  ("ALTER TABLE ai_jobs ADD COLUMN org TEXT NOT NULL DEFAULT '';"
   "UPDATE ai_jobs SET org = prds.org FROM prds WHERE prds.id = ai_jobs.prd_id;"
   "CREATE INDEX ai_jobs_by_user ON ai_jobs (org, user_id);"),
};

typedef enum
{
  REQUEST_OPEN,
  REQUEST_CLOSE,
  REQUEST_CREATE,
  REQUEST_GET,
  REQUEST_LIST,
  REQUEST_UPDATE_METADATA,
  REQUEST_DELETE,
  REQUEST_APPEND_UPDATE,
  REQUEST_LOAD,
  REQUEST_WRITE_SNAPSHOT,
  REQUEST_ACQUIRE_SITE,
  REQUEST_LIST_SITES,
  REQUEST_HOLD_SITE,
  REQUEST_RETIRE_SITES,
  REQUEST_CUSTOM,
} RequestKind;

typedef struct
{
  RequestKind kind;
  GTask *task; /* (owned) (nullable): NULL for the quit request of dispose */

  /* Arguments, copied so the worker owns them */
  char *prd_id;
  char *org;
  char *title;
  char *owner;
  char *user_id;
  char *version;
  char *holder;
  GBytes *bytes;
  GArray *busy_sites; /* (element-type int) (nullable) */
  int site;
  gint64 clock;
  gint64 seq;

  /* REQUEST_WRITE_SNAPSHOT: makes `bytes` on the packer, before the write */
  PrdStorePackFunc pack;
  gpointer pack_data;
  GDestroyNotify pack_destroy;

  /* REQUEST_CUSTOM: an operation of a feature's own file */
  PrdSqliteOpFunc custom_func;
  gpointer custom_data;
  GDestroyNotify custom_data_free;
  gboolean custom_write;

  /* Outcome, filled by the worker */
  gboolean changed; /* a write that turned out to change nothing clears it */
  gpointer result;
  GDestroyNotify result_free;
  GError *error;
} Request;

struct _PrdSqliteWorker
{
  GThread *thread;
  GAsyncQueue *queue;    /* (element-type GPtrArray<Request>) */
  GMainContext *context; /* (owned) where requests complete */
  char *path;
  gint64 commits; /* atomic */

  /* The packer (see the top of the file): one thread at a time, tasks in
   * the order they were pushed (element-type PackerJob) */
  GThreadPool *packer;
  int packing;  /* atomic: snapshots pushed to the packer, not yet to the worker */
  int barriers; /* atomic: barriers pushed to the packer, not yet to the worker */

  /* Only the worker thread touches these */
  sqlite3 *db;
  GHashTable *statements; /* static SQL text → sqlite3_stmt */
  /* PRD ids an update of which was refused: their room takes nothing
   * behind it as stored, so no later update of theirs is stored either
   * until the room is gone (its sites retired, or the PRD deleted).
   * (owned) (element-type utf8) */
  GHashTable *refused_updates;
};

typedef PrdSqliteWorker Worker;

struct _PrdSqliteStore
{
  GObject parent_instance;

  Worker *worker; /* (owned) */

  GMutex lock;
  GPtrArray *pending;    /* (owned) (element-type Request): requests of this iteration */
  GSource *flush_source; /* (owned) (nullable) */
  gboolean closing;
};

static void prd_sqlite_store_iface_init (PrdStoreInterface *iface);

/* Besides PrdStore, one interface per concern; each is implemented in a
 * file of its own (prd-sqlite-store-<concern>.c, see
 * prd-sqlite-store-private.h). */
/* (unowned): the registry's, set in class_init; observed by the worker. */
static PrdMetric *commit_duration;

/* clang-format off */
G_DEFINE_FINAL_TYPE_WITH_CODE (PrdSqliteStore, prd_sqlite_store, G_TYPE_OBJECT,
  G_IMPLEMENT_INTERFACE (PRD_TYPE_STORE, prd_sqlite_store_iface_init)
  G_IMPLEMENT_INTERFACE (PRD_TYPE_COMMENT_STORE, prd_sqlite_store_comment_store_iface_init)
  G_IMPLEMENT_INTERFACE (PRD_TYPE_APPROVAL_STORE, prd_sqlite_store_approval_store_iface_init)
  G_IMPLEMENT_INTERFACE (PRD_TYPE_NOTIFICATION_STORE,
                         prd_sqlite_store_notification_store_iface_init)
  G_IMPLEMENT_INTERFACE (PRD_TYPE_CONFLICT_STORE, prd_sqlite_store_conflict_store_iface_init)
  G_IMPLEMENT_INTERFACE (PRD_TYPE_AI_JOB_STORE, prd_sqlite_store_ai_job_store_iface_init)
  G_IMPLEMENT_INTERFACE (PRD_TYPE_VERSION_STORE, prd_sqlite_store_version_store_iface_init)
  G_IMPLEMENT_INTERFACE (PRD_TYPE_MANAGE_STORE, prd_sqlite_store_manage_store_iface_init)
  G_IMPLEMENT_INTERFACE (PRD_TYPE_REVOCATION_STORE, prd_sqlite_store_revocation_store_iface_init)
  G_IMPLEMENT_INTERFACE (PRD_TYPE_INTEGRATION_STORE,
                         prd_sqlite_store_integration_store_iface_init))
/* clang-format on */

static gboolean
request_is_write (const Request *r)
{
  switch (r->kind)
    {
      case REQUEST_CREATE:
      case REQUEST_UPDATE_METADATA:
      case REQUEST_DELETE:
      case REQUEST_APPEND_UPDATE:
      case REQUEST_WRITE_SNAPSHOT:
      case REQUEST_ACQUIRE_SITE:
      case REQUEST_HOLD_SITE:
      case REQUEST_RETIRE_SITES:
        return TRUE;
      case REQUEST_CUSTOM:
        return r->custom_write;
      case REQUEST_OPEN:
      case REQUEST_CLOSE:
      case REQUEST_GET:
      case REQUEST_LIST:
      case REQUEST_LOAD:
      case REQUEST_LIST_SITES:
      default:
        return FALSE;
    }
}

static void
request_free (gpointer data)
{
  Request *r = data;

  g_clear_object (&r->task);
  g_free (r->prd_id);
  g_free (r->org);
  g_free (r->title);
  g_free (r->owner);
  g_free (r->user_id);
  g_free (r->version);
  g_free (r->holder);
  g_clear_pointer (&r->bytes, g_bytes_unref);
  g_clear_pointer (&r->busy_sites, g_array_unref);
  if (r->pack_destroy != NULL)
    r->pack_destroy (r->pack_data);
  if (r->custom_data != NULL && r->custom_data_free != NULL)
    r->custom_data_free (r->custom_data);
  if (r->result != NULL && r->result_free != NULL)
    r->result_free (r->result);
  g_clear_error (&r->error);
  g_free (r);
}

static void
request_set_result (Request *r, gpointer result, GDestroyNotify result_free)
{
  g_assert (r->result == NULL);
  r->result = result;
  r->result_free = result_free;
}

static void
request_fail (Request *r, const GError *error)
{
  if (r->result != NULL && r->result_free != NULL)
    r->result_free (r->result);
  r->result = NULL;
  g_clear_error (&r->error);
  r->error = g_error_copy (error);
}

static void
batch_free (gpointer data)
{
  GPtrArray *batch = data;

  for (guint i = 0; i < batch->len; i++)
    request_free (batch->pdata[i]);
  g_ptr_array_unref (batch);
}

static void
statement_free (gpointer stmt)
{
  sqlite3_finalize (stmt);
}

/* SQLite helpers (worker thread only) */

static gboolean
set_sqlite_error (GError **error, sqlite3 *db, int rc, const char *what)
{
  int primary = rc & 0xff;
  PrdErrorCode code = PRD_ERROR_STORAGE;

  if (primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB)
    code = PRD_ERROR_CORRUPT_DATA;

  g_set_error (error, PRD_ERROR, code, "%s: %s", what,
               db != NULL ? sqlite3_errmsg (db) : sqlite3_errstr (rc));
  return FALSE;
}

static gboolean
worker_exec (Worker *w, const char *sql, GError **error)
{
  int rc = sqlite3_exec (w->db, sql, NULL, NULL, NULL);

  if (rc != SQLITE_OK)
    return set_sqlite_error (error, w->db, rc, "Database error");
  return TRUE;
}

/* Statements are prepared once and reused: appends are the hot path. The
 * caller resets the statement with stmt_done() when it is finished. */
static sqlite3_stmt *
worker_prepare (Worker *w, const char *sql, GError **error)
{
  sqlite3_stmt *stmt = g_hash_table_lookup (w->statements, sql);
  int rc;

  if (stmt != NULL)
    return stmt;

  rc = sqlite3_prepare_v3 (w->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, NULL);
  if (rc != SQLITE_OK)
    {
      set_sqlite_error (error, w->db, rc, "Cannot prepare a statement");
      return NULL;
    }
  g_hash_table_insert (w->statements, (gpointer) sql, stmt);
  return stmt;
}

static void
stmt_done (sqlite3_stmt *stmt)
{
  sqlite3_reset (stmt);
  sqlite3_clear_bindings (stmt);
}

/* A borrowed cached statement: g_autoptr resets it instead of finalizing. */
typedef sqlite3_stmt sqlite3_stmt_reset;
G_DEFINE_AUTOPTR_CLEANUP_FUNC (sqlite3_stmt_reset, stmt_done)

static void
bind_text (sqlite3_stmt *stmt, int index, const char *text)
{
  if (text == NULL)
    sqlite3_bind_null (stmt, index);
  else
    sqlite3_bind_text (stmt, index, text, -1, SQLITE_STATIC);
}

static void
bind_bytes (sqlite3_stmt *stmt, int index, GBytes *bytes)
{
  gsize size;
  gconstpointer data = g_bytes_get_data (bytes, &size);

  /* A zero-length blob, not NULL: an empty state is still a state. */
  if (size == 0)
    sqlite3_bind_zeroblob (stmt, index, 0);
  else
    sqlite3_bind_blob64 (stmt, index, data, size, SQLITE_STATIC);
}

static char *
column_text (sqlite3_stmt *stmt, int column)
{
  return g_strdup ((const char *) sqlite3_column_text (stmt, column));
}

static GBytes *
column_bytes (sqlite3_stmt *stmt, int column)
{
  const void *data;
  int size;

  if (sqlite3_column_type (stmt, column) == SQLITE_NULL)
    return NULL;
  data = sqlite3_column_blob (stmt, column);
  size = sqlite3_column_bytes (stmt, column);
  return g_bytes_new (data, (gsize) size);
}

static gboolean
step_done (Worker *w, sqlite3_stmt *stmt, GError **error)
{
  int rc = sqlite3_step (stmt);

  if (rc != SQLITE_DONE)
    return set_sqlite_error (error, w->db, rc, "Database error");
  return TRUE;
}

/* A statement without results, prepared once: the transaction control of
 * every write (sqlite3_exec() would parse it again each time). */
static gboolean
worker_run (Worker *w, const char *sql, GError **error)
{
  g_autoptr (sqlite3_stmt_reset) stmt = worker_prepare (w, sql, error);

  return stmt != NULL && step_done (w, stmt, error);
}

static void
set_prd_not_found (GError **error, const char *prd_id)
{
  g_propagate_error (error, prd_error_new_prd_not_found (prd_id));
}

/* Open and migrate */

static gboolean
worker_migrate (Worker *w, GError **error)
{
  g_autoptr (sqlite3_stmt) stmt = NULL;
  int version;
  int application_id;
  int n_objects;
  int rc;

  /* IMMEDIATE so that two processes opening the same fresh file do not both
   * run the migrations. */
  if (!worker_exec (w, "BEGIN IMMEDIATE", error))
    return FALSE;

  rc = sqlite3_prepare_v2 (w->db,
                           "SELECT (SELECT user_version FROM pragma_user_version),"
                           " (SELECT application_id FROM pragma_application_id),"
                           " (SELECT count(*) FROM sqlite_master)",
                           -1, &stmt, NULL);
  if (rc != SQLITE_OK || sqlite3_step (stmt) != SQLITE_ROW)
    {
      set_sqlite_error (error, w->db, rc != SQLITE_OK ? rc : sqlite3_errcode (w->db),
                        "Cannot read the schema version");
      goto fail;
    }
  version = sqlite3_column_int (stmt, 0);
  application_id = sqlite3_column_int (stmt, 1);
  n_objects = sqlite3_column_int (stmt, 2);
  g_clear_pointer (&stmt, sqlite3_finalize);

  if ((application_id != 0 && application_id != PRDHUB_APPLICATION_ID) ||
      (version == 0 && n_objects > 0))
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_CORRUPT_DATA,
                   "%s is an SQLite database of some other program", w->path);
      goto fail;
    }

  if (version > (int) G_N_ELEMENTS (migrations) || version < 0)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_UNSUPPORTED_VERSION,
                   "%s has schema version %d, but this prdhub only knows versions up to %d; "
                   "use a newer prdhub",
                   w->path, version, (int) G_N_ELEMENTS (migrations));
      goto fail;
    }

  for (int v = version; v < (int) G_N_ELEMENTS (migrations); v++)
    {
      g_autofree char *set_version = g_strdup_printf ("PRAGMA user_version = %d", v + 1);

      g_debug ("Migrating %s from schema version %d to %d", w->path, v, v + 1);
      if (!worker_exec (w, migrations[v], error) || !worker_exec (w, set_version, error))
        goto fail;
    }

  if (application_id == 0)
    {
      g_autofree char *set_id =
          g_strdup_printf ("PRAGMA application_id = %d", PRDHUB_APPLICATION_ID);

      if (!worker_exec (w, set_id, error))
        goto fail;
    }

  return worker_exec (w, "COMMIT", error);

fail:
  sqlite3_exec (w->db, "ROLLBACK", NULL, NULL, NULL);
  return FALSE;
}

static void
worker_close_db (Worker *w)
{
  if (w->db == NULL)
    return;
  /* Finalizing the statements first lets sqlite3_close succeed and
   * checkpoint the WAL. */
  g_hash_table_remove_all (w->statements);
  if (sqlite3_close (w->db) != SQLITE_OK)
    g_warning ("Closing %s: %s", w->path, sqlite3_errmsg (w->db));
  w->db = NULL;
}

/* An upgrade must not happen under another process that has the database
 * open: a hub of an older prdhub, still running, would go on with a schema
 * it does not know. So a database of an older schema that another process
 * holds open is refused. A file without a schema yet (version 0; worker_open()
 * has created it empty) is not checked: BEGIN IMMEDIATE serializes its
 * creation. */
static gboolean
check_upgrade_alone (const char *path, GError **error)
{
  g_autoptr (sqlite3) db = NULL;
  g_autoptr (sqlite3_stmt) stmt = NULL;
  int version;

  if (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
    return TRUE; /* opening it for real reports why it cannot be opened */
  sqlite3_busy_timeout (db, BUSY_TIMEOUT_MS);
  if (sqlite3_prepare_v2 (db, "PRAGMA user_version", -1, &stmt, NULL) != SQLITE_OK ||
      sqlite3_step (stmt) != SQLITE_ROW)
    return TRUE;
  version = sqlite3_column_int (stmt, 0);
  g_clear_pointer (&stmt, sqlite3_finalize);
  g_clear_pointer (&db, sqlite3_close);
  if (version <= 0 || version >= (int) G_N_ELEMENTS (migrations) ||
      prd_sqlite_store_check_unused (path, NULL))
    return TRUE;
  g_set_error (error, PRD_ERROR, PRD_ERROR_STORAGE,
               "%s has schema version %d and another process has it open (a hub of an older "
               "prdhub?); stop it so that the database can be upgraded to version %d",
               path, version, (int) G_N_ELEMENTS (migrations));
  return FALSE;
}

static gboolean
worker_open (Worker *w, GError **error)
{
  static const char *const suffixes[] = { "", "-wal", "-shm" };
  g_autofree char *dir = g_path_get_dirname (w->path);
  g_autoptr (sqlite3_stmt) stmt = NULL;
  const char *mode;
  int rc;

  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, PRD_ERROR, PRD_ERROR_STORAGE, "Cannot create the data folder %s: %s", dir,
                   g_strerror (saved_errno));
      return FALSE;
    }

  /* The database holds every organization's PRDs: owner-only, whatever
   * the umask. SQLite gives its -wal and -shm files the database's mode;
   * files of an older prdhub are made private here. */
  if (!prd_private_file_create (w->path, error))
    return FALSE;
  for (guint i = 0; i < G_N_ELEMENTS (suffixes); i++)
    {
      g_autofree char *file = g_strconcat (w->path, suffixes[i], NULL);

      if (!prd_private_file_restrict (file, error))
        return FALSE;
    }
  if (!check_upgrade_alone (w->path, error))
    return FALSE;
  rc = sqlite3_open_v2 (w->path, &w->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
  if (rc != SQLITE_OK)
    {
      set_sqlite_error (error, w->db, rc, "Cannot open the database");
      goto fail;
    }
  sqlite3_extended_result_codes (w->db, 1);
  sqlite3_busy_timeout (w->db, BUSY_TIMEOUT_MS);

  /* journal_mode answers with the mode it ended up in; anything but WAL
   * (a file system without shared memory, say) loses the durability and
   * concurrency the design relies on, so it is an error. */
  rc = sqlite3_prepare_v2 (w->db, "PRAGMA journal_mode = WAL", -1, &stmt, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_step (stmt);
  if (rc != SQLITE_ROW)
    {
      set_sqlite_error (error, w->db, rc, "Cannot open the database");
      goto fail;
    }
  mode = (const char *) sqlite3_column_text (stmt, 0);
  if (mode == NULL || g_ascii_strcasecmp (mode, "wal") != 0)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_STORAGE,
                   "%s cannot use write-ahead logging (journal mode is %s)", w->path,
                   mode != NULL ? mode : "unknown");
      goto fail;
    }
  g_clear_pointer (&stmt, sqlite3_finalize);

  if (!worker_exec (w, "PRAGMA synchronous = FULL", error) ||
      !worker_exec (w, "PRAGMA foreign_keys = ON", error) ||
      !worker_exec (w, "PRAGMA secure_delete = ON", error) ||
      !worker_exec (w, "PRAGMA journal_size_limit = " G_STRINGIFY (PRD_SQLITE_STORE_WAL_LIMIT),
                    error) ||
      !worker_migrate (w, error))
    goto fail;

  return TRUE;

fail:
  g_clear_pointer (&stmt, sqlite3_finalize);
  worker_close_db (w);
  return FALSE;
}

/* Operations (worker thread, inside a transaction) */

#define INFO_COLUMNS \
  "id, org, title, version, owner, created_at, updated_at, snapshot_seq, last_seq, archived_at"

static PrdStoreInfo *
info_from_row (sqlite3_stmt *stmt)
{
  PrdStoreInfo *info = g_new0 (PrdStoreInfo, 1);

  info->id = column_text (stmt, 0);
  info->org = column_text (stmt, 1);
  info->title = column_text (stmt, 2);
  info->version = column_text (stmt, 3);
  info->owner = column_text (stmt, 4);
  info->created_at = sqlite3_column_int64 (stmt, 5);
  info->updated_at = sqlite3_column_int64 (stmt, 6);
  info->snapshot_seq = sqlite3_column_int64 (stmt, 7);
  info->last_seq = sqlite3_column_int64 (stmt, 8);
  info->archived_at = sqlite3_column_int64 (stmt, 9);
  return info;
}

static PrdStoreInfo *
op_get_info (Worker *w, const char *prd_id, GError **error)
{
  g_autoptr (sqlite3_stmt_reset) stmt = NULL;
  int rc;

  stmt = worker_prepare (w, "SELECT " INFO_COLUMNS " FROM prds WHERE id = ?1", error);
  if (stmt == NULL)
    return NULL;
  bind_text (stmt, 1, prd_id);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    return info_from_row (stmt);
  if (rc == SQLITE_DONE)
    set_prd_not_found (error, prd_id);
  else
    set_sqlite_error (error, w->db, rc, "Cannot read a PRD");
  return NULL;
}

static gboolean op_append_update (Worker *w, Request *r, GError **error);

/* The new PRD @id's first update, in the same transaction as its row:
 * site 0 for r->user_id, then r->bytes at r->clock as update 1. No load can
 * come between, so nobody sees the PRD without it. */
static gboolean
create_first_update (Worker *w, Request *r, const char *id, gint64 now, GError **error)
{
  g_autoptr (sqlite3_stmt_reset) stmt = NULL;
  g_autofree char *requested_id = NULL;
  gint64 *seq;
  gboolean appended;

  stmt = worker_prepare (w,
                         "INSERT INTO prd_sites (prd_id, site, user_id, created_at)"
                         " VALUES (?1, 0, ?2, ?3)",
                         error);
  if (stmt == NULL)
    return FALSE;
  bind_text (stmt, 1, id);
  bind_text (stmt, 2, r->user_id);
  sqlite3_bind_int64 (stmt, 3, now);
  if (!step_done (w, stmt, error))
    return FALSE;
  /* op_append_update() reads the PRD and site from @r; they are put back
   * after, so that the request can run again as it came (a group that
   * fails runs each of its requests again alone). */
  requested_id = g_steal_pointer (&r->prd_id);
  r->prd_id = g_strdup (id);
  r->site = 0;
  appended = op_append_update (w, r, error);
  g_free (r->prd_id);
  r->prd_id = g_steal_pointer (&requested_id);
  if (!appended)
    return FALSE;
  seq = g_steal_pointer (&r->result);
  g_assert (*seq == 1);
  g_free (seq);
  r->result_free = NULL;
  return TRUE;
}

static gboolean
op_create (Worker *w, Request *r, GError **error)
{
  gint64 now = g_get_real_time ();

  for (int attempt = 0; attempt < GENERATED_ID_TRIES; attempt++)
    {
      g_autoptr (sqlite3_stmt_reset) stmt = NULL;
      g_autofree char *id = r->prd_id != NULL ? g_strdup (r->prd_id) : prd_store_generate_prd_id ();
      int rc;

      stmt = worker_prepare (w,
                             "INSERT INTO prds (id, org, title, owner, created_at, updated_at)"
                             " VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
                             error);
      if (stmt == NULL)
        return FALSE;
      bind_text (stmt, 1, id);
      bind_text (stmt, 2, r->org);
      bind_text (stmt, 3, r->title);
      bind_text (stmt, 4, r->owner);
      sqlite3_bind_int64 (stmt, 5, now);
      rc = sqlite3_step (stmt);
      if (rc == SQLITE_DONE)
        {
          g_clear_pointer (&stmt, stmt_done);
          if (r->bytes != NULL && !create_first_update (w, r, id, now, error))
            return FALSE;
          request_set_result (r, op_get_info (w, id, error), (GDestroyNotify) prd_store_info_free);
          return r->result != NULL;
        }
      if (rc != SQLITE_CONSTRAINT_PRIMARYKEY)
        return set_sqlite_error (error, w->db, rc, "Cannot create the PRD");
      if (r->prd_id != NULL)
        {
          g_set_error (error, PRD_ERROR, PRD_ERROR_ALREADY_EXISTS, "A PRD %s already exists",
                       r->prd_id);
          return FALSE;
        }
      /* 80 random bits colliding means a broken random source; try again a
       * few times rather than fail a user's request. */
    }

  g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INTERNAL,
                       "Could not generate a free PRD id; is the random source broken?");
  return FALSE;
}

static gboolean
op_get (Worker *w, Request *r, GError **error)
{
  request_set_result (r, op_get_info (w, r->prd_id, error), (GDestroyNotify) prd_store_info_free);
  return r->result != NULL;
}

static gboolean
op_list (Worker *w, Request *r, GError **error)
{
  g_autoptr (sqlite3_stmt_reset) stmt = NULL;
  g_autoptr (GPtrArray) list =
      g_ptr_array_new_with_free_func ((GDestroyNotify) prd_store_info_free);
  int rc;

  stmt = worker_prepare (
      w, "SELECT " INFO_COLUMNS " FROM prds WHERE org = ?1 ORDER BY created_at, id", error);
  if (stmt == NULL)
    return FALSE;
  bind_text (stmt, 1, r->org);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    g_ptr_array_add (list, info_from_row (stmt));
  if (rc != SQLITE_DONE)
    return set_sqlite_error (error, w->db, rc, "Cannot list PRDs");

  request_set_result (r, g_steal_pointer (&list), (GDestroyNotify) g_ptr_array_unref);
  return TRUE;
}

static gboolean
op_update_metadata (Worker *w, Request *r, GError **error)
{
  g_autoptr (sqlite3_stmt_reset) stmt = NULL;

  stmt = worker_prepare (w,
                         "UPDATE prds SET title = coalesce(?2, title),"
                         " version = coalesce(?3, version), updated_at = ?4 WHERE id = ?1",
                         error);
  if (stmt == NULL)
    return FALSE;
  bind_text (stmt, 1, r->prd_id);
  bind_text (stmt, 2, r->title);
  bind_text (stmt, 3, r->version);
  sqlite3_bind_int64 (stmt, 4, g_get_real_time ());
  if (!step_done (w, stmt, error))
    return FALSE;
  if (sqlite3_changes (w->db) == 0)
    {
      set_prd_not_found (error, r->prd_id);
      return FALSE;
    }

  request_set_result (r, op_get_info (w, r->prd_id, error), (GDestroyNotify) prd_store_info_free);
  return r->result != NULL;
}

static gboolean
op_delete (Worker *w, Request *r, GError **error)
{
  g_autoptr (sqlite3_stmt_reset) stmt = NULL;

  /* prd_updates and prd_sites go with it (ON DELETE CASCADE). */
  stmt = worker_prepare (w, "DELETE FROM prds WHERE id = ?1", error);
  if (stmt == NULL)
    return FALSE;
  bind_text (stmt, 1, r->prd_id);
  if (!step_done (w, stmt, error))
    return FALSE;
  if (sqlite3_changes (w->db) == 0)
    {
      set_prd_not_found (error, r->prd_id);
      return FALSE;
    }
  return TRUE;
}

static gboolean
op_append_update (Worker *w, Request *r, GError **error)
{
  g_autoptr (PrdStoreInfo) info = NULL;
  g_autoptr (sqlite3_stmt_reset) site_stmt = NULL;
  g_autoptr (sqlite3_stmt_reset) insert = NULL;
  g_autoptr (sqlite3_stmt_reset) bump = NULL;
  gint64 now = g_get_real_time ();
  gint64 seq;
  int rc;

  if (g_hash_table_contains (w->refused_updates, r->prd_id))
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_STORAGE,
                           "An earlier operation could not be stored");
      return FALSE;
    }
  info = op_get_info (w, r->prd_id, error);
  if (info == NULL)
    return FALSE;

  /* The site must have been handed out, to this user: an update under
   * somebody else's site would corrupt both users' clocks. */
  site_stmt = worker_prepare (
      w, "SELECT user_id = ?3 FROM prd_sites WHERE prd_id = ?1 AND site = ?2", error);
  if (site_stmt == NULL)
    return FALSE;
  bind_text (site_stmt, 1, r->prd_id);
  sqlite3_bind_int (site_stmt, 2, r->site);
  bind_text (site_stmt, 3, r->user_id);
  rc = sqlite3_step (site_stmt);
  if (rc == SQLITE_DONE || (rc == SQLITE_ROW && sqlite3_column_int (site_stmt, 0) == 0))
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION,
                   "Site %d of %s is not allocated to user %s", r->site, r->prd_id, r->user_id);
      return FALSE;
    }
  if (rc != SQLITE_ROW)
    return set_sqlite_error (error, w->db, rc, "Cannot read the sites");
  g_clear_pointer (&site_stmt, stmt_done);

  seq = info->last_seq + 1;
  insert = worker_prepare (w,
                           "INSERT INTO prd_updates"
                           " (prd_id, seq, site, clock, user_id, payload, created_at)"
                           " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                           error);
  if (insert == NULL)
    return FALSE;
  bind_text (insert, 1, r->prd_id);
  sqlite3_bind_int64 (insert, 2, seq);
  sqlite3_bind_int (insert, 3, r->site);
  sqlite3_bind_int64 (insert, 4, r->clock);
  bind_text (insert, 5, r->user_id);
  bind_bytes (insert, 6, r->bytes);
  sqlite3_bind_int64 (insert, 7, now);
  rc = sqlite3_step (insert);
  if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_ALREADY_EXISTS,
                   "Update (%d, %" G_GINT64_FORMAT ") of %s is already stored", r->site, r->clock,
                   r->prd_id);
      return FALSE;
    }
  if (rc != SQLITE_DONE)
    return set_sqlite_error (error, w->db, rc, "Cannot store the update");

  bump = worker_prepare (w, "UPDATE prds SET last_seq = ?2, updated_at = ?3 WHERE id = ?1;", error);
  if (bump == NULL)
    return FALSE;
  bind_text (bump, 1, r->prd_id);
  sqlite3_bind_int64 (bump, 2, seq);
  sqlite3_bind_int64 (bump, 3, now);
  if (!step_done (w, bump, error))
    return FALSE;
  g_clear_pointer (&bump, stmt_done);

  bump = worker_prepare (w,
                         "UPDATE prd_sites SET clock = max(clock, ?3)"
                         " WHERE prd_id = ?1 AND site = ?2",
                         error);
  if (bump == NULL)
    return FALSE;
  bind_text (bump, 1, r->prd_id);
  sqlite3_bind_int (bump, 2, r->site);
  sqlite3_bind_int64 (bump, 3, r->clock);
  if (!step_done (w, bump, error))
    return FALSE;

  request_set_result (r, g_memdup2 (&seq, sizeof seq), g_free);
  return TRUE;
}

static gboolean
op_load (Worker *w, Request *r, GError **error)
{
  g_autoptr (PrdStoreDocument) document = g_new0 (PrdStoreDocument, 1);
  g_autoptr (sqlite3_stmt_reset) stmt = NULL;
  gint64 expected;
  int rc;

  document->info = op_get_info (w, r->prd_id, error);
  if (document->info == NULL)
    return FALSE;
  /* Another organization's PRD is an unknown id to this reader: answered
   * from its row alone, before the snapshot and the log are read. */
  if (r->org != NULL && !g_str_equal (document->info->org, r->org))
    {
      set_prd_not_found (error, r->prd_id);
      return FALSE;
    }
  document->updates = g_ptr_array_new_with_free_func ((GDestroyNotify) prd_store_update_free);

  stmt = worker_prepare (w, "SELECT state FROM prd_snapshots WHERE prd_id = ?1", error);
  if (stmt == NULL)
    return FALSE;
  bind_text (stmt, 1, r->prd_id);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    document->snapshot = column_bytes (stmt, 0);
  else if (rc != SQLITE_DONE)
    return set_sqlite_error (error, w->db, rc, "Cannot read the snapshot");
  g_clear_pointer (&stmt, stmt_done);

  stmt = worker_prepare (w,
                         "SELECT seq, site, clock, user_id, payload, created_at FROM prd_updates"
                         " WHERE prd_id = ?1 AND seq > ?2 ORDER BY seq",
                         error);
  if (stmt == NULL)
    return FALSE;
  bind_text (stmt, 1, r->prd_id);
  sqlite3_bind_int64 (stmt, 2, document->info->snapshot_seq);

  /* The log after the snapshot must be exactly snapshot_seq + 1 … last_seq:
   * restoring from a log with a hole would silently lose edits. */
  expected = document->info->snapshot_seq + 1;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      PrdStoreUpdate *update = g_new0 (PrdStoreUpdate, 1);

      update->seq = sqlite3_column_int64 (stmt, 0);
      update->site = sqlite3_column_int (stmt, 1);
      update->clock = sqlite3_column_int64 (stmt, 2);
      update->user_id = column_text (stmt, 3);
      update->payload = column_bytes (stmt, 4);
      update->created_at = sqlite3_column_int64 (stmt, 5);
      g_ptr_array_add (document->updates, update);

      if (update->seq != expected || update->payload == NULL)
        {
          g_set_error (error, PRD_ERROR, PRD_ERROR_CORRUPT_DATA,
                       "The update log of %s is broken at update %" G_GINT64_FORMAT, r->prd_id,
                       expected);
          return FALSE;
        }
      expected++;
    }
  if (rc != SQLITE_DONE)
    return set_sqlite_error (error, w->db, rc, "Cannot read the update log");
  if (expected - 1 != document->info->last_seq)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_CORRUPT_DATA,
                   "The update log of %s ends at %" G_GINT64_FORMAT
                   " but should end at %" G_GINT64_FORMAT,
                   r->prd_id, expected - 1, document->info->last_seq);
      return FALSE;
    }

  request_set_result (r, g_steal_pointer (&document), (GDestroyNotify) prd_store_document_free);
  return TRUE;
}

static gboolean
op_write_snapshot (Worker *w, Request *r, GError **error)
{
  g_autoptr (PrdStoreInfo) info = NULL;
  g_autoptr (sqlite3_stmt_reset) stmt = NULL;

  /* The packer's result is checked before anything else, as the bytes of
   * a request that came with them were. */
  g_assert (r->pack == NULL);
  if (!prd_store_validate_snapshot (r->bytes, error))
    return FALSE;

  info = op_get_info (w, r->prd_id, error);
  if (info == NULL)
    return FALSE;
  if (r->seq > info->last_seq || r->seq < info->snapshot_seq)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION,
                   "A snapshot of %s after update %" G_GINT64_FORMAT
                   " is outside the log (snapshot at %" G_GINT64_FORMAT
                   ", last update %" G_GINT64_FORMAT ")",
                   r->prd_id, r->seq, info->snapshot_seq, info->last_seq);
      return FALSE;
    }

  stmt = worker_prepare (w,
                         "INSERT INTO prd_snapshots (prd_id, state) VALUES (?1, ?2)"
                         " ON CONFLICT (prd_id) DO UPDATE SET state = excluded.state",
                         error);
  if (stmt == NULL)
    return FALSE;
  bind_text (stmt, 1, r->prd_id);
  bind_bytes (stmt, 2, r->bytes);
  if (!step_done (w, stmt, error))
    return FALSE;
  g_clear_pointer (&stmt, stmt_done);

  stmt =
      worker_prepare (w, "UPDATE prds SET snapshot_seq = ?2, updated_at = ?3 WHERE id = ?1", error);
  if (stmt == NULL)
    return FALSE;
  bind_text (stmt, 1, r->prd_id);
  sqlite3_bind_int64 (stmt, 2, r->seq);
  sqlite3_bind_int64 (stmt, 3, g_get_real_time ());
  if (!step_done (w, stmt, error))
    return FALSE;
  g_clear_pointer (&stmt, stmt_done);

  stmt = worker_prepare (w, "DELETE FROM prd_updates WHERE prd_id = ?1 AND seq <= ?2", error);
  if (stmt == NULL)
    return FALSE;
  bind_text (stmt, 1, r->prd_id);
  sqlite3_bind_int64 (stmt, 2, r->seq);
  return step_done (w, stmt, error);
}

static gboolean
site_is_busy (const Request *r, int site)
{
  for (guint i = 0; r->busy_sites != NULL && i < r->busy_sites->len; i++)
    if (g_array_index (r->busy_sites, int, i) == site)
      return TRUE;
  return FALSE;
}

static gboolean
op_acquire_site (Worker *w, Request *r, GError **error)
{
  g_autoptr (PrdStoreInfo) info = NULL;
  g_autoptr (sqlite3_stmt_reset) stmt = NULL;
  g_autoptr (PrdStoreSite) site = NULL;
  gint64 next;
  int rc;

  info = op_get_info (w, r->prd_id, error);
  if (info == NULL)
    return FALSE;

  stmt = worker_prepare (w,
                         "SELECT site, clock FROM prd_sites WHERE prd_id = ?1 AND user_id = ?2"
                         " AND NOT retired ORDER BY site",
                         error);
  if (stmt == NULL)
    return FALSE;
  bind_text (stmt, 1, r->prd_id);
  bind_text (stmt, 2, r->user_id);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      int candidate = sqlite3_column_int (stmt, 0);

      if (!site_is_busy (r, candidate))
        {
          site = g_new0 (PrdStoreSite, 1);
          site->site = candidate;
          site->user_id = g_strdup (r->user_id);
          site->clock = sqlite3_column_int64 (stmt, 1);
          site->is_new = FALSE;
          r->changed = FALSE;
          request_set_result (r, g_steal_pointer (&site), (GDestroyNotify) prd_store_site_free);
          return TRUE;
        }
    }
  if (rc != SQLITE_DONE)
    return set_sqlite_error (error, w->db, rc, "Cannot read the sites");
  g_clear_pointer (&stmt, stmt_done);

  stmt = worker_prepare (w, "SELECT coalesce(max(site) + 1, 0) FROM prd_sites WHERE prd_id = ?1",
                         error);
  if (stmt == NULL)
    return FALSE;
  bind_text (stmt, 1, r->prd_id);
  rc = sqlite3_step (stmt);
  if (rc != SQLITE_ROW)
    return set_sqlite_error (error, w->db, rc, "Cannot read the sites");
  next = sqlite3_column_int64 (stmt, 0);
  g_clear_pointer (&stmt, stmt_done);
  if (next > PRD_STORE_MAX_SITE)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION, "%s has run out of sites",
                   r->prd_id);
      return FALSE;
    }

  stmt = worker_prepare (w,
                         "INSERT INTO prd_sites (prd_id, site, user_id, created_at)"
                         " VALUES (?1, ?2, ?3, ?4)",
                         error);
  if (stmt == NULL)
    return FALSE;
  bind_text (stmt, 1, r->prd_id);
  sqlite3_bind_int64 (stmt, 2, next);
  bind_text (stmt, 3, r->user_id);
  sqlite3_bind_int64 (stmt, 4, g_get_real_time ());
  if (!step_done (w, stmt, error))
    return FALSE;

  site = g_new0 (PrdStoreSite, 1);
  site->site = (int) next;
  site->user_id = g_strdup (r->user_id);
  site->clock = 0;
  site->is_new = TRUE;
  request_set_result (r, g_steal_pointer (&site), (GDestroyNotify) prd_store_site_free);
  return TRUE;
}

static gboolean
op_list_sites (Worker *w, Request *r, GError **error)
{
  g_autoptr (PrdStoreInfo) info = NULL;
  g_autoptr (sqlite3_stmt_reset) stmt = NULL;
  g_autoptr (GPtrArray) sites =
      g_ptr_array_new_with_free_func ((GDestroyNotify) prd_store_site_free);
  int rc;

  info = op_get_info (w, r->prd_id, error);
  if (info == NULL)
    return FALSE;

  stmt = worker_prepare (w,
                         "SELECT site, user_id, clock, holder, holder_from, retired FROM prd_sites"
                         " WHERE prd_id = ?1 ORDER BY site",
                         error);
  if (stmt == NULL)
    return FALSE;
  bind_text (stmt, 1, r->prd_id);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      PrdStoreSite *site = g_new0 (PrdStoreSite, 1);

      site->site = sqlite3_column_int (stmt, 0);
      site->user_id = column_text (stmt, 1);
      site->clock = sqlite3_column_int64 (stmt, 2);
      site->holder = column_text (stmt, 3);
      site->holder_from = sqlite3_column_int64 (stmt, 4);
      site->retired = sqlite3_column_int (stmt, 5) != 0;
      g_ptr_array_add (sites, site);
    }
  if (rc != SQLITE_DONE)
    return set_sqlite_error (error, w->db, rc, "Cannot read the sites");

  request_set_result (r, g_steal_pointer (&sites), (GDestroyNotify) g_ptr_array_unref);
  return TRUE;
}

static gboolean
op_hold_site (Worker *w, Request *r, GError **error)
{
  g_autoptr (sqlite3_stmt_reset) stmt = worker_prepare (
      w, "UPDATE prd_sites SET holder = ?3, holder_from = ?4 WHERE prd_id = ?1 AND site = ?2",
      error);

  if (stmt == NULL)
    return FALSE;
  bind_text (stmt, 1, r->prd_id);
  sqlite3_bind_int (stmt, 2, r->site);
  bind_text (stmt, 3, r->holder);
  sqlite3_bind_int64 (stmt, 4, r->clock);
  if (!step_done (w, stmt, error))
    return FALSE;
  r->changed = sqlite3_changes (w->db) > 0;
  return TRUE;
}

static gboolean
op_retire_sites (Worker *w, Request *r, GError **error)
{
  g_autoptr (sqlite3_stmt_reset) stmt = worker_prepare (
      w, "UPDATE prd_sites SET retired = 1 WHERE NOT retired AND (?1 IS NULL OR prd_id = ?1)",
      error);

  if (stmt == NULL)
    return FALSE;
  bind_text (stmt, 1, r->prd_id);
  if (!step_done (w, stmt, error))
    return FALSE;
  r->changed = sqlite3_changes (w->db) > 0;
  return TRUE;
}

static gboolean
worker_run_operation (Worker *w, Request *r, GError **error)
{
  /* A PRD's room is gone once its sites are retired (a room closed on a
   * failed update retires them, behind every update it sent) or the PRD is
   * deleted: its updates are taken again. Not on a load: versions and
   * reads load a PRD while its failed room may still have updates queued. */
  if (r->kind == REQUEST_RETIRE_SITES && r->prd_id == NULL)
    g_hash_table_remove_all (w->refused_updates);
  else if ((r->kind == REQUEST_RETIRE_SITES || r->kind == REQUEST_DELETE) && r->prd_id != NULL)
    g_hash_table_remove (w->refused_updates, r->prd_id);
  switch (r->kind)
    {
      case REQUEST_CREATE:
        return op_create (w, r, error);
      case REQUEST_GET:
        return op_get (w, r, error);
      case REQUEST_LIST:
        return op_list (w, r, error);
      case REQUEST_UPDATE_METADATA:
        return op_update_metadata (w, r, error);
      case REQUEST_DELETE:
        return op_delete (w, r, error);
      case REQUEST_APPEND_UPDATE:
        return op_append_update (w, r, error);
      case REQUEST_LOAD:
        return op_load (w, r, error);
      case REQUEST_WRITE_SNAPSHOT:
        return op_write_snapshot (w, r, error);
      case REQUEST_ACQUIRE_SITE:
        return op_acquire_site (w, r, error);
      case REQUEST_LIST_SITES:
        return op_list_sites (w, r, error);
      case REQUEST_HOLD_SITE:
        return op_hold_site (w, r, error);
      case REQUEST_RETIRE_SITES:
        return op_retire_sites (w, r, error);
      case REQUEST_CUSTOM:
        {
          gpointer result = NULL;
          GDestroyNotify result_free = NULL;

          if (!r->custom_func (w, r->custom_data, &result, &result_free, error))
            {
              if (result != NULL && result_free != NULL)
                result_free (result);
              return FALSE;
            }
          request_set_result (r, result, result_free);
          return TRUE;
        }
      case REQUEST_OPEN:
      case REQUEST_CLOSE:
      default:
        g_assert_not_reached ();
    }
}

/* The worker loop */

static gboolean
complete_batch_cb (gpointer data)
{
  GPtrArray *done = data;

  for (guint i = 0; i < done->len; i++)
    {
      Request *r = done->pdata[i];
      g_autoptr (GTask) task = g_steal_pointer (&r->task);

      if (task == NULL)
        continue;
      if (r->error != NULL)
        g_task_return_error (task, g_steal_pointer (&r->error));
      else if (r->kind == REQUEST_OPEN)
        g_task_return_pointer (task, g_object_ref (g_task_get_source_object (task)),
                               g_object_unref);
      else if (r->result != NULL || r->kind == REQUEST_CUSTOM)
        g_task_return_pointer (task, g_steal_pointer (&r->result), r->result_free);
      else
        g_task_return_boolean (task, TRUE);
    }
  return G_SOURCE_REMOVE;
}

static void
worker_post (Worker *w, GPtrArray *done)
{
  g_autoptr (GSource) source = NULL;

  if (done->len == 0)
    {
      g_ptr_array_unref (done);
      return;
    }
  source = g_idle_source_new ();
  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_set_static_name (source, "[prd-sqlite-store] complete");
  g_source_set_callback (source, complete_batch_cb, done, (GDestroyNotify) g_ptr_array_unref);
  g_source_attach (source, w->context);
}

static gboolean
request_cancelled (Request *r, GError **error)
{
  GCancellable *cancellable = r->task != NULL ? g_task_get_cancellable (r->task) : NULL;

  return g_cancellable_set_error_if_cancelled (cancellable, error);
}

/* Commits the open transaction of @requests, or rolls it back if
 * @txn_error (transfer full) is set or the COMMIT fails. */
static gboolean
worker_commit (Worker *w, Request **requests, guint n_requests, GError *txn_error, GError **error)
{
  g_autoptr (GError) local_error = txn_error;
  gboolean wrote = FALSE;

  for (guint i = 0; i < n_requests; i++)
    {
      Request *r = requests[i];

      if (request_is_write (r) && r->error == NULL && r->changed)
        wrote = TRUE;
    }

  if (local_error == NULL)
    {
      gint64 start = g_get_monotonic_time ();

      if (!worker_run (w, "COMMIT", &local_error))
        g_prefix_error (&local_error, "The transaction was not committed: ");
      else if (wrote)
        prd_metric_observe (commit_duration,
                            (double) (g_get_monotonic_time () - start) / G_USEC_PER_SEC);
    }

  if (local_error != NULL)
    {
      if (!sqlite3_get_autocommit (w->db))
        sqlite3_exec (w->db, "ROLLBACK", NULL, NULL, NULL);
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  if (wrote)
    __atomic_add_fetch (&w->commits, 1, __ATOMIC_SEQ_CST);
  return TRUE;
}

/* Remembers that the database refused an update of @r's PRD (a failing or
 * damaged database; not an update refused for itself, a duplicate id or an
 * unknown site, which a room never sends): its room takes nothing behind a
 * refused update as stored, and closes. */
static void
note_refused_update (Worker *w, Request *r)
{
  if (r->kind == REQUEST_APPEND_UPDATE && r->prd_id != NULL &&
      (g_error_matches (r->error, PRD_ERROR, PRD_ERROR_STORAGE) ||
       g_error_matches (r->error, PRD_ERROR, PRD_ERROR_CORRUPT_DATA)))
    g_hash_table_add (w->refused_updates, g_strdup (r->prd_id));
}

/* Runs @r inside the group's transaction, which it begins if *@in_txn is
 * %FALSE. A failure that dooms the whole transaction goes to @txn_error. */
static void
worker_run_request (Worker *w, Request *r, gboolean *in_txn, GError **txn_error)
{
  gboolean write = request_is_write (r);

  if (*txn_error != NULL)
    {
      request_fail (r, *txn_error);
      return;
    }
  if (request_cancelled (r, &r->error))
    return;
  if (w->db == NULL)
    {
      g_set_error_literal (&r->error, PRD_ERROR, PRD_ERROR_STORAGE, "The database is not open");
      return;
    }
  /* SQLite rolls a whole transaction back by itself on some
   * errors (I/O, full disk); what follows must not run in autocommit
   * mode and be reported as failed although it was written. */
  if (*in_txn && sqlite3_get_autocommit (w->db))
    {
      g_set_error_literal (txn_error, PRD_ERROR, PRD_ERROR_STORAGE,
                           "The transaction was rolled back by the database");
      request_fail (r, *txn_error);
      return;
    }
  if (!*in_txn)
    {
      if (!worker_run (w, "BEGIN IMMEDIATE", &r->error))
        {
          g_prefix_error (&r->error, "Cannot start a transaction: ");
          return;
        }
      *in_txn = TRUE;
    }

  r->changed = write;
  if (write && !worker_run (w, "SAVEPOINT request", txn_error))
    {
      request_fail (r, *txn_error);
      return;
    }
  if (!worker_run_operation (w, r, &r->error) && write)
    {
      note_refused_update (w, r);
      /* Undo this request alone; the rest of the group still commits. */
      if (!worker_run (w, "ROLLBACK TO request", txn_error))
        return;
    }
  if (write)
    (void) worker_run (w, "RELEASE request", txn_error);
}

/* Forgets what @r's run inside a rolled-back transaction produced. */
static void
request_reset (Request *r)
{
  if (r->result != NULL && r->result_free != NULL)
    r->result_free (r->result);
  r->result = NULL;
  r->result_free = NULL;
  g_clear_error (&r->error);
  r->changed = FALSE;
}

/* Ends the open transaction and completes its requests. If the group
 * fails as a whole (its COMMIT, or the database rolled it back: a full disk,
 * an I/O error), one request's write must not fail the others: each runs
 * again alone, in a transaction of its own, so that reads are answered and
 * writes that fit still commit. Nothing a request produced inside the
 * rolled-back transaction is kept: a read there may have seen the group's
 * writes that were rolled back. The operations have no effect outside the
 * database (see the PrdSqliteOpFunc contract), so running one again is
 * safe. */
static void
worker_end_transaction (Worker *w, GPtrArray *done, GError *txn_error)
{
  g_autoptr (GError) error = NULL;
  guint n_ran = 0;

  if (worker_commit (w, (Request **) done->pdata, done->len, txn_error, &error))
    {
      worker_post (w, done);
      return;
    }

  for (guint i = 0; i < done->len; i++)
    {
      Request *r = done->pdata[i];

      if (r->kind != REQUEST_OPEN && r->kind != REQUEST_CLOSE)
        n_ran++;
    }
  if (n_ran > 1)
    g_debug ("A group of %u requests failed (%s); running each alone", n_ran, error->message);

  for (guint i = 0; i < done->len; i++)
    {
      Request *r = done->pdata[i];
      g_autoptr (GError) alone_error = NULL;
      g_autoptr (GError) alone_txn_error = NULL;
      gboolean in_txn = FALSE;

      if (r->kind == REQUEST_OPEN || r->kind == REQUEST_CLOSE)
        continue;
      /* A PRD's updates and snapshots are written in order, and a room
       * takes nothing behind a failed update as stored (nor a snapshot
       * that may hold it): they fail with their group, never alone. */
      if (n_ran <= 1 || r->kind == REQUEST_APPEND_UPDATE || r->kind == REQUEST_WRITE_SNAPSHOT)
        {
          request_fail (r, error);
          note_refused_update (w, r);
          continue;
        }
      request_reset (r);
      worker_run_request (w, r, &in_txn, &alone_txn_error);
      if (in_txn && !worker_commit (w, &r, 1, g_steal_pointer (&alone_txn_error), &alone_error))
        request_fail (r, alone_error);
    }

  worker_post (w, done);
}

static void
worker_run_control (Worker *w, Request *r)
{
  if (r->kind == REQUEST_OPEN)
    {
      if (!request_cancelled (r, &r->error))
        worker_open (w, &r->error);
    }
  else
    {
      worker_close_db (w);
    }
}

static void
worker_run_group (Worker *w, GPtrArray *batch, gboolean *quit)
{
  GPtrArray *done = g_ptr_array_new_with_free_func (request_free);
  GError *txn_error = NULL;
  gboolean in_txn = FALSE;

  while (batch != NULL)
    {
      for (guint i = 0; i < batch->len; i++)
        {
          Request *r = batch->pdata[i];

          if (r->kind == REQUEST_OPEN || r->kind == REQUEST_CLOSE)
            {
              if (in_txn)
                {
                  worker_end_transaction (w, done, g_steal_pointer (&txn_error));
                  done = g_ptr_array_new_with_free_func (request_free);
                  in_txn = FALSE;
                }
              worker_run_control (w, r);
              g_ptr_array_add (done, r);
              if (r->kind == REQUEST_CLOSE)
                *quit = TRUE;
              continue;
            }

          g_ptr_array_add (done, r);
          worker_run_request (w, r, &in_txn, &txn_error);
        }

      g_ptr_array_unref (batch);
      batch = NULL;
      if (!*quit && done->len < MAX_GROUP)
        batch = g_async_queue_try_pop (w->queue);
    }

  if (in_txn)
    worker_end_transaction (w, done, g_steal_pointer (&txn_error));
  else
    worker_post (w, done);
  g_clear_error (&txn_error);
}

static gpointer
worker_thread (gpointer data)
{
  Worker *w = data;
  gboolean quit = FALSE;

  while (!quit)
    worker_run_group (w, g_async_queue_pop (w->queue), &quit);

  return NULL;
}

/* The packer's tasks: a snapshot to pack, then queue for the worker; or a
 * barrier, queued for the worker once the snapshots pushed before it are. */
typedef struct
{
  Request *snapshot;  /* (owned) (nullable) */
  GPtrArray *barrier; /* (owned) (nullable) (element-type Request) */
} PackerJob;

/* Makes a snapshot request's bytes, on the packer. */
static void
pack_snapshot (Request *r)
{
  g_assert (r->kind == REQUEST_WRITE_SNAPSHOT && r->pack != NULL);

  /* cancelled while queued: never packed (the worker reports it) */
  if (!g_cancellable_is_cancelled (g_task_get_cancellable (r->task)))
    r->bytes = r->pack (r->pack_data);
  r->pack = NULL;
}

static void
packer_run (gpointer data, gpointer user_data)
{
  PackerJob *job = data;
  Worker *w = user_data;

  if (job->snapshot != NULL)
    {
      GPtrArray *batch = g_ptr_array_new ();

      pack_snapshot (job->snapshot);
      g_ptr_array_add (batch, job->snapshot);
      g_async_queue_push (w->queue, batch);
      (void) g_atomic_int_dec_and_test (&w->packing);
    }
  else
    {
      /* A barrier holds whatever came after it, snapshots included: they
       * are packed here, in their place, since this thread runs its tasks
       * in order. */
      for (guint i = 0; i < job->barrier->len; i++)
        {
          Request *r = job->barrier->pdata[i];

          if (r->kind == REQUEST_WRITE_SNAPSHOT)
            pack_snapshot (r);
        }
      g_async_queue_push (w->queue, job->barrier);
      (void) g_atomic_int_dec_and_test (&w->barriers);
    }
  g_free (job);
}

static void
packer_push (Worker *w, PackerJob *job)
{
  g_autoptr (GError) error = NULL;

  if (job->snapshot != NULL)
    g_atomic_int_inc (&w->packing);
  else
    g_atomic_int_inc (&w->barriers);
  /* On failure the task stays queued for the pool's next thread. */
  if (!g_thread_pool_push (w->packer, job, &error))
    g_warning ("Cannot start the snapshot packer: %s", error->message);
}

static void
worker_free (Worker *w)
{
  g_assert (w->thread == NULL);
  g_assert (w->db == NULL);
  if (w->packer != NULL)
    g_thread_pool_free (w->packer, FALSE, TRUE);
  g_async_queue_unref (w->queue);
  g_hash_table_unref (w->statements);
  g_hash_table_unref (w->refused_updates);
  g_main_context_unref (w->context);
  g_free (w->path);
  g_free (w);
}

/* GObject */

static void
prd_sqlite_store_dispose (GObject *object)
{
  PrdSqliteStore *self = PRD_SQLITE_STORE (object);
  Worker *w = self->worker;

  /* Every queued request holds a reference on the store through its task,
   * so nothing is pending by now; tell the worker to close and wait. */
  if (w != NULL && w->thread != NULL)
    {
      if (!self->closing)
        {
          GPtrArray *quit = g_ptr_array_new ();
          Request *r = g_new0 (Request, 1);

          r->kind = REQUEST_CLOSE;
          g_ptr_array_add (quit, r);
          self->closing = TRUE;
          g_async_queue_push (w->queue, quit);
        }
      g_thread_join (g_steal_pointer (&w->thread));
    }

  G_OBJECT_CLASS (prd_sqlite_store_parent_class)->dispose (object);
}

static void
prd_sqlite_store_finalize (GObject *object)
{
  PrdSqliteStore *self = PRD_SQLITE_STORE (object);

  g_assert (self->pending->len == 0);
  g_assert (self->flush_source == NULL);
  g_clear_pointer (&self->worker, worker_free);
  g_clear_pointer (&self->pending, g_ptr_array_unref);
  g_mutex_clear (&self->lock);

  G_OBJECT_CLASS (prd_sqlite_store_parent_class)->finalize (object);
}

static void
prd_sqlite_store_class_init (PrdSqliteStoreClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  commit_duration = prd_metric_histogram (
      "prdhub_sqlite_commit_duration_seconds",
      "Time SQLite took to COMMIT a group of writes (the fsync an acknowledged edit waits for).");
  object_class->dispose = prd_sqlite_store_dispose;
  object_class->finalize = prd_sqlite_store_finalize;
}

static void
prd_sqlite_store_init (PrdSqliteStore *self)
{
  g_mutex_init (&self->lock);
  self->pending = g_ptr_array_new ();
}

/* Queueing (any thread; normally the store's main context) */

/* Hands one iteration's requests on, in order: snapshots to the packer, the
 * rest to the worker, and from a barrier on (a close or a delete while a
 * snapshot is packed, or anything while a barrier waits) to the packer. */
static void
dispatch_batch (Worker *w, GPtrArray *batch)
{
  g_autoptr (GPtrArray) now = g_ptr_array_new ();
  guint i;

  for (i = 0; i < batch->len; i++)
    {
      Request *r = batch->pdata[i];

      if (g_atomic_int_get (&w->barriers) > 0 ||
          ((r->kind == REQUEST_CLOSE || r->kind == REQUEST_DELETE) &&
           g_atomic_int_get (&w->packing) > 0))
        break;
      if (r->kind == REQUEST_WRITE_SNAPSHOT)
        {
          PackerJob *job = g_new0 (PackerJob, 1);

          /* what came before it goes first: it may be packed at once */
          if (now->len > 0)
            {
              g_async_queue_push (w->queue, g_steal_pointer (&now));
              now = g_ptr_array_new ();
            }
          job->snapshot = r;
          packer_push (w, job);
          continue;
        }
      g_ptr_array_add (now, r);
    }
  if (now->len > 0)
    g_async_queue_push (w->queue, g_steal_pointer (&now));
  if (i < batch->len)
    {
      PackerJob *job = g_new0 (PackerJob, 1);

      job->barrier = g_ptr_array_new ();
      for (; i < batch->len; i++)
        g_ptr_array_add (job->barrier, batch->pdata[i]);
      packer_push (w, job);
    }
  g_ptr_array_unref (batch);
}

static gboolean
flush_cb (gpointer data)
{
  PrdSqliteStore *self = data;
  GPtrArray *batch;

  g_mutex_lock (&self->lock);
  batch = g_steal_pointer (&self->pending);
  self->pending = g_ptr_array_new ();
  g_clear_pointer (&self->flush_source, g_source_unref);
  g_mutex_unlock (&self->lock);

  dispatch_batch (self->worker, batch);
  return G_SOURCE_REMOVE;
}

static Request *
request_new (PrdSqliteStore *self,
             RequestKind kind,
             gpointer source_tag,
             GCancellable *cancellable,
             GAsyncReadyCallback callback,
             gpointer user_data)
{
  Request *r = g_new0 (Request, 1);

  r->kind = kind;
  r->task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (r->task, source_tag);
  /* See the top of the file: once run, a request reports what happened. */
  g_task_set_check_cancellable (r->task, FALSE);
  return r;
}

static void
enqueue (PrdSqliteStore *self, Request *r)
{
  g_mutex_lock (&self->lock);
  if (self->closing)
    {
      g_mutex_unlock (&self->lock);
      g_task_return_new_error (r->task, PRD_ERROR, PRD_ERROR_STORAGE, "The store is closed");
      request_free (r);
      return;
    }
  if (r->kind == REQUEST_CLOSE)
    self->closing = TRUE;
  g_ptr_array_add (self->pending, r);
  if (self->flush_source == NULL)
    {
      self->flush_source = g_idle_source_new ();
      g_source_set_priority (self->flush_source, G_PRIORITY_DEFAULT);
      g_source_set_static_name (self->flush_source, "[prd-sqlite-store] flush");
      g_source_set_callback (self->flush_source, flush_cb, g_object_ref (self), g_object_unref);
      g_source_attach (self->flush_source, self->worker->context);
    }
  g_mutex_unlock (&self->lock);
}

/**
 * prd_sqlite_store_new_async:
 * @path: the database file; its folder is created (0700) if needed
 * @cancellable: (nullable): a #GCancellable
 * @callback: called when the database is open and migrated
 * @user_data: data for @callback
 *
 * Opens (or creates) the database and brings its schema up to date. A
 * database written by a newer prdhub fails with
 * %PRD_ERROR_UNSUPPORTED_VERSION and is left untouched.
 *
 * Requests complete on the thread-default main context of the caller of
 * this function; make them from that context.
 */
void
prd_sqlite_store_new_async (const char *path,
                            GCancellable *cancellable,
                            GAsyncReadyCallback callback,
                            gpointer user_data)
{
  g_autoptr (PrdSqliteStore) self = NULL;
  g_autoptr (GError) error = NULL;
  Worker *w;

  g_return_if_fail (path != NULL);

  self = g_object_new (PRD_TYPE_SQLITE_STORE, NULL);
  w = self->worker = g_new0 (Worker, 1);
  w->path = g_strdup (path);
  w->context = g_main_context_ref_thread_default ();
  w->queue = g_async_queue_new_full (batch_free);
  w->statements = g_hash_table_new_full (NULL, NULL, NULL, statement_free);
  w->refused_updates = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  w->packer = g_thread_pool_new (packer_run, w, 1, FALSE, NULL);
  w->thread = g_thread_try_new ("prd-sqlite-store", worker_thread, w, &error);
  if (w->thread == NULL)
    {
      g_task_report_new_error (self, callback, user_data, prd_sqlite_store_new_async, PRD_ERROR,
                               PRD_ERROR_STORAGE, "Cannot start the storage thread: %s",
                               error->message);
      return;
    }

  enqueue (self, request_new (self, REQUEST_OPEN, prd_sqlite_store_new_async, cancellable, callback,
                              user_data));
}

/**
 * prd_sqlite_store_new_finish:
 * @result: the #GAsyncResult
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the open store, or %NULL on error
 */
PrdSqliteStore *
prd_sqlite_store_new_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (G_IS_TASK (result), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * prd_sqlite_store_get_path:
 * @self: a #PrdSqliteStore
 *
 * Returns: the database file
 */
const char *
prd_sqlite_store_get_path (PrdSqliteStore *self)
{
  g_return_val_if_fail (PRD_IS_SQLITE_STORE (self), NULL);
  return self->worker->path;
}

/**
 * prd_sqlite_store_get_transactions_committed:
 * @self: a #PrdSqliteStore
 *
 * How many transactions that changed something have been committed, for
 * tests and benchmarks of the group commit.
 *
 * Returns: the count
 */
guint64
prd_sqlite_store_get_transactions_committed (PrdSqliteStore *self)
{
  g_return_val_if_fail (PRD_IS_SQLITE_STORE (self), 0);
  return (guint64) __atomic_load_n (&self->worker->commits, __ATOMIC_SEQ_CST);
}

/**
 * prd_sqlite_store_get_schema_version:
 *
 * Returns: the schema version this code creates and migrates to
 */
int
prd_sqlite_store_get_schema_version (void)
{
  return (int) G_N_ELEMENTS (migrations);
}

/* Operations of other files (prd-sqlite-store-private.h) */

/**
 * prd_sqlite_store_run_async:
 * @write: whether @func writes (it then runs inside the grouped transaction)
 * @func: the operation, run on the worker thread
 * @data: (transfer full): its argument, freed with @data_free on the main
 *   context once the request has completed
 *
 * Queues a feature's own operation; see prd-sqlite-store-private.h.
 */
void
prd_sqlite_store_run_async (PrdSqliteStore *self,
                            gboolean write,
                            PrdSqliteOpFunc func,
                            gpointer data,
                            GDestroyNotify data_free,
                            gpointer source_tag,
                            GCancellable *cancellable,
                            GAsyncReadyCallback callback,
                            gpointer user_data)
{
  Request *r;

  g_return_if_fail (PRD_IS_SQLITE_STORE (self));
  g_return_if_fail (func != NULL);

  r = request_new (self, REQUEST_CUSTOM, source_tag, cancellable, callback, user_data);
  r->custom_func = func;
  r->custom_data = data;
  r->custom_data_free = data_free;
  r->custom_write = write;
  enqueue (self, r);
}

/**
 * prd_sqlite_store_run_finish:
 * @out_result: (out) (transfer full) (optional) (nullable): the operation's result
 *
 * Returns: %TRUE if the operation succeeded (and, for a write, committed)
 */
gboolean
prd_sqlite_store_run_finish (PrdSqliteStore *self,
                             GAsyncResult *result,
                             gpointer *out_result,
                             GError **error)
{
  gpointer value;

  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  if (g_task_had_error (G_TASK (result)))
    {
      g_task_propagate_pointer (G_TASK (result), error);
      return FALSE;
    }
  value = g_task_propagate_pointer (G_TASK (result), NULL);
  if (out_result != NULL)
    *out_result = value;
  else if (value != NULL)
    g_warning ("prd_sqlite_store_run_finish: a result was dropped");
  return TRUE;
}

sqlite3 *
prd_sqlite_worker_get_db (PrdSqliteWorker *worker)
{
  return worker->db;
}

PrdStoreInfo *
prd_sqlite_worker_get_info (PrdSqliteWorker *worker, const char *prd_id, GError **error)
{
  return op_get_info (worker, prd_id, error);
}

gboolean
prd_sqlite_worker_check_prd (PrdSqliteWorker *worker,
                             const char *prd_id,
                             const char *org,
                             GError **error)
{
  g_autoptr (PrdStoreInfo) info = op_get_info (worker, prd_id, error);

  if (info == NULL)
    return FALSE;
  if (org != NULL && !g_str_equal (info->org, org))
    {
      set_prd_not_found (error, prd_id);
      return FALSE;
    }
  return TRUE;
}

sqlite3_stmt *
prd_sqlite_worker_prepare (PrdSqliteWorker *worker, const char *sql, GError **error)
{
  return worker_prepare (worker, sql, error);
}

gboolean
prd_sqlite_worker_step_done (PrdSqliteWorker *worker, sqlite3_stmt *stmt, GError **error)
{
  return step_done (worker, stmt, error);
}

gboolean
prd_sqlite_worker_set_error (PrdSqliteWorker *worker, int rc, const char *what, GError **error)
{
  return set_sqlite_error (error, worker->db, rc, what);
}

void
prd_sqlite_stmt_reset (sqlite3_stmt *stmt)
{
  stmt_done (stmt);
}

/* PrdStore */

static void
prd_sqlite_store_create (PrdStore *store,
                         const char *prd_id,
                         const char *org,
                         const char *title,
                         const char *owner,
                         const char *first_user,
                         gint64 first_clock,
                         GBytes *first_update,
                         GCancellable *cancellable,
                         GAsyncReadyCallback callback,
                         gpointer user_data)
{
  PrdSqliteStore *self = PRD_SQLITE_STORE (store);
  Request *r =
      request_new (self, REQUEST_CREATE, prd_store_create_async, cancellable, callback, user_data);

  r->prd_id = g_strdup (prd_id);
  r->org = g_strdup (org);
  r->title = g_strdup (title);
  r->owner = g_strdup (owner);
  if (first_update != NULL)
    {
      r->user_id = g_strdup (first_user);
      r->clock = first_clock;
      r->bytes = g_bytes_ref (first_update);
    }
  enqueue (self, r);
}

static void
prd_sqlite_store_get (PrdStore *store,
                      const char *prd_id,
                      GCancellable *cancellable,
                      GAsyncReadyCallback callback,
                      gpointer user_data)
{
  PrdSqliteStore *self = PRD_SQLITE_STORE (store);
  Request *r =
      request_new (self, REQUEST_GET, prd_store_get_async, cancellable, callback, user_data);

  r->prd_id = g_strdup (prd_id);
  enqueue (self, r);
}

static void
prd_sqlite_store_list (PrdStore *store,
                       const char *org,
                       GCancellable *cancellable,
                       GAsyncReadyCallback callback,
                       gpointer user_data)
{
  PrdSqliteStore *self = PRD_SQLITE_STORE (store);
  Request *r =
      request_new (self, REQUEST_LIST, prd_store_list_async, cancellable, callback, user_data);

  r->org = g_strdup (org);
  enqueue (self, r);
}

static void
prd_sqlite_store_update_metadata (PrdStore *store,
                                  const char *prd_id,
                                  const char *title,
                                  const char *version,
                                  GCancellable *cancellable,
                                  GAsyncReadyCallback callback,
                                  gpointer user_data)
{
  PrdSqliteStore *self = PRD_SQLITE_STORE (store);
  Request *r = request_new (self, REQUEST_UPDATE_METADATA, prd_store_update_metadata_async,
                            cancellable, callback, user_data);

  r->prd_id = g_strdup (prd_id);
  r->title = g_strdup (title);
  r->version = g_strdup (version);
  enqueue (self, r);
}

static void
prd_sqlite_store_delete (PrdStore *store,
                         const char *prd_id,
                         GCancellable *cancellable,
                         GAsyncReadyCallback callback,
                         gpointer user_data)
{
  PrdSqliteStore *self = PRD_SQLITE_STORE (store);
  Request *r =
      request_new (self, REQUEST_DELETE, prd_store_delete_async, cancellable, callback, user_data);

  r->prd_id = g_strdup (prd_id);
  enqueue (self, r);
}

static void
prd_sqlite_store_append_update (PrdStore *store,
                                const char *prd_id,
                                int site,
                                gint64 clock,
                                const char *user_id,
                                GBytes *payload,
                                GCancellable *cancellable,
                                GAsyncReadyCallback callback,
                                gpointer user_data)
{
  PrdSqliteStore *self = PRD_SQLITE_STORE (store);
  Request *r = request_new (self, REQUEST_APPEND_UPDATE, prd_store_append_update_async, cancellable,
                            callback, user_data);

  r->prd_id = g_strdup (prd_id);
  r->site = site;
  r->clock = clock;
  r->user_id = g_strdup (user_id);
  r->bytes = g_bytes_ref (payload);
  enqueue (self, r);
}

static void
prd_sqlite_store_load (PrdStore *store,
                       const char *prd_id,
                       const char *org,
                       GCancellable *cancellable,
                       GAsyncReadyCallback callback,
                       gpointer user_data)
{
  PrdSqliteStore *self = PRD_SQLITE_STORE (store);
  Request *r =
      request_new (self, REQUEST_LOAD, prd_store_load_async, cancellable, callback, user_data);

  r->prd_id = g_strdup (prd_id);
  r->org = g_strdup (org);
  enqueue (self, r);
}

static void
prd_sqlite_store_write_snapshot (PrdStore *store,
                                 const char *prd_id,
                                 PrdStorePackFunc pack,
                                 gpointer pack_data,
                                 GDestroyNotify pack_destroy,
                                 gint64 seq,
                                 GCancellable *cancellable,
                                 GAsyncReadyCallback callback,
                                 gpointer user_data)
{
  PrdSqliteStore *self = PRD_SQLITE_STORE (store);
  Request *r = request_new (self, REQUEST_WRITE_SNAPSHOT, prd_store_write_snapshot_packed_async,
                            cancellable, callback, user_data);

  r->prd_id = g_strdup (prd_id);
  r->pack = pack;
  r->pack_data = pack_data;
  r->pack_destroy = pack_destroy;
  r->seq = seq;
  enqueue (self, r);
}

static void
prd_sqlite_store_acquire_site (PrdStore *store,
                               const char *prd_id,
                               const char *user_id,
                               const int *busy_sites,
                               guint n_busy_sites,
                               GCancellable *cancellable,
                               GAsyncReadyCallback callback,
                               gpointer user_data)
{
  PrdSqliteStore *self = PRD_SQLITE_STORE (store);
  Request *r = request_new (self, REQUEST_ACQUIRE_SITE, prd_store_acquire_site_async, cancellable,
                            callback, user_data);

  r->prd_id = g_strdup (prd_id);
  r->user_id = g_strdup (user_id);
  r->busy_sites = g_array_sized_new (FALSE, FALSE, sizeof (int), n_busy_sites);
  g_array_append_vals (r->busy_sites, busy_sites, n_busy_sites);
  enqueue (self, r);
}

static void
prd_sqlite_store_list_sites (PrdStore *store,
                             const char *prd_id,
                             GCancellable *cancellable,
                             GAsyncReadyCallback callback,
                             gpointer user_data)
{
  PrdSqliteStore *self = PRD_SQLITE_STORE (store);
  Request *r = request_new (self, REQUEST_LIST_SITES, prd_store_list_sites_async, cancellable,
                            callback, user_data);

  r->prd_id = g_strdup (prd_id);
  enqueue (self, r);
}

static void
prd_sqlite_store_hold_site (PrdStore *store,
                            const char *prd_id,
                            int site,
                            const char *holder,
                            gint64 holder_from,
                            GCancellable *cancellable,
                            GAsyncReadyCallback callback,
                            gpointer user_data)
{
  PrdSqliteStore *self = PRD_SQLITE_STORE (store);
  Request *r = request_new (self, REQUEST_HOLD_SITE, prd_store_hold_site_async, cancellable,
                            callback, user_data);

  r->prd_id = g_strdup (prd_id);
  r->site = site;
  r->holder = g_strdup (holder);
  r->clock = holder_from;
  enqueue (self, r);
}

static void
prd_sqlite_store_retire_sites (PrdStore *store,
                               const char *prd_id,
                               GCancellable *cancellable,
                               GAsyncReadyCallback callback,
                               gpointer user_data)
{
  PrdSqliteStore *self = PRD_SQLITE_STORE (store);
  Request *r = request_new (self, REQUEST_RETIRE_SITES, prd_store_retire_sites_async, cancellable,
                            callback, user_data);

  r->prd_id = g_strdup (prd_id);
  enqueue (self, r);
}

static void
prd_sqlite_store_close (PrdStore *store,
                        GCancellable *cancellable,
                        GAsyncReadyCallback callback,
                        gpointer user_data)
{
  PrdSqliteStore *self = PRD_SQLITE_STORE (store);

  /* Not cancellable: closing after whatever is queued is always safe. */
  enqueue (self,
           request_new (self, REQUEST_CLOSE, prd_store_close_async, NULL, callback, user_data));
}

static void
prd_sqlite_store_iface_init (PrdStoreInterface *iface)
{
  iface->create = prd_sqlite_store_create;
  iface->get = prd_sqlite_store_get;
  iface->list = prd_sqlite_store_list;
  iface->update_metadata = prd_sqlite_store_update_metadata;
  iface->delete = prd_sqlite_store_delete;
  iface->append_update = prd_sqlite_store_append_update;
  iface->load = prd_sqlite_store_load;
  iface->write_snapshot = prd_sqlite_store_write_snapshot;
  iface->acquire_site = prd_sqlite_store_acquire_site;
  iface->list_sites = prd_sqlite_store_list_sites;
  iface->hold_site = prd_sqlite_store_hold_site;
  iface->retire_sites = prd_sqlite_store_retire_sites;
  iface->close = prd_sqlite_store_close;
}

/* SQLite's backup API gives a consistent copy: one read transaction for the
 * whole copy, which in WAL mode neither waits for the hub's writes nor holds
 * them up. */
/* Whether the error @rc of a copy is the destination's: the source is only
 * read, so a full disk or a failed write is the copy's. */
static gboolean
is_write_error (int rc)
{
  switch (rc & 0xff)
    {
      case SQLITE_FULL:
      case SQLITE_READONLY:
      case SQLITE_CANTOPEN:
        return TRUE;
      case SQLITE_IOERR:
        return rc == SQLITE_IOERR_WRITE || rc == SQLITE_IOERR_FSYNC ||
               rc == SQLITE_IOERR_DIR_FSYNC || rc == SQLITE_IOERR_TRUNCATE;
      default:
        return FALSE;
    }
}

/* Copies @from (the file @source) into @to (the file @dest); an error names
 * the file it is about. */
static gboolean
backup_database (sqlite3 *from, sqlite3 *to, const char *source, const char *dest, GError **error)
{
  sqlite3_backup *backup = sqlite3_backup_init (to, "main", from, "main");
  int rc;

  if (backup == NULL)
    return set_sqlite_error (error, to, sqlite3_errcode (to), "Cannot start the copy");
  do
    {
      rc = sqlite3_backup_step (backup, -1);
      if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
        sqlite3_sleep (50);
    }
  while (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED);
  sqlite3_backup_finish (backup);
  if (rc != SQLITE_DONE)
    {
      if (is_write_error (rc))
        {
          set_sqlite_error (error, NULL, rc, "Cannot write the copy of the database");
          g_prefix_error (error, "%s: ", dest);
        }
      else
        {
          set_sqlite_error (error, NULL, rc, "Cannot copy the database");
          g_prefix_error (error, "%s: ", source);
        }
      return FALSE;
    }
  return TRUE;
}

static gboolean
read_int (sqlite3 *db, const char *sql, int *value, GError **error)
{
  g_autoptr (sqlite3_stmt) stmt = NULL;
  int rc = sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL);

  if (rc != SQLITE_OK || (rc = sqlite3_step (stmt)) != SQLITE_ROW)
    return set_sqlite_error (error, db, rc, "Cannot read the database");
  *value = sqlite3_column_int (stmt, 0);
  return TRUE;
}

/**
 * prd_sqlite_store_copy_file:
 * @source: a prdhub database (a running hub may be writing to it)
 * @from_backup: whether @source is a backup's copy, which nothing writes to
 * @dest: a file that does not exist yet
 * @schema_version: (out) (optional): the schema version of @source (and of
 *   the copy)
 *
 * Copies @source into a new database file @dest with SQLite's online
 * backup API, a consistent snapshot of every committed transaction, and
 * checks the copy (`PRAGMA quick_check`). @source is opened read-only; a
 * backup's copy without a `-wal` file beside it is read as unchanging, so
 * nothing is written beside it (older releases' backups are in WAL mode,
 * and would otherwise get `-shm` and `-wal` files, or fail to open on
 * read-only media). A file that is not a prdhub database, or one of a
 * newer schema than this prdhub knows, is refused. Blocks: for the
 * command line.
 */
gboolean
prd_sqlite_store_copy_file (
    const char *source, gboolean from_backup, const char *dest, int *schema_version, GError **error)
{
  g_autoptr (sqlite3) from = NULL;
  g_autoptr (sqlite3) to = NULL;
  g_autoptr (sqlite3_stmt) check = NULL;
  g_autofree char *wal = NULL;
  g_autofree char *uri = NULL;
  int application_id = 0, version = 0, rc;

  g_return_val_if_fail (source != NULL, FALSE);
  g_return_val_if_fail (dest != NULL, FALSE);

  wal = g_strconcat (source, "-wal", NULL);
  if (from_backup && !g_file_test (wal, G_FILE_TEST_EXISTS))
    {
      g_autofree char *absolute = g_canonicalize_filename (source, NULL);
      g_autofree char *file_uri = g_filename_to_uri (absolute, NULL, error);

      if (file_uri == NULL)
        return FALSE;
      uri = g_strconcat (file_uri, "?immutable=1", NULL);
    }
  rc = sqlite3_open_v2 (uri != NULL ? uri : source, &from,
                        SQLITE_OPEN_READONLY | (uri != NULL ? SQLITE_OPEN_URI : 0), NULL);
  if (rc != SQLITE_OK)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_STORAGE, "Cannot open %s: %s", source,
                   from != NULL ? sqlite3_errmsg (from) : sqlite3_errstr (rc));
      return FALSE;
    }
  sqlite3_busy_timeout (from, 10000);
  if (!read_int (from, "PRAGMA application_id", &application_id, error) ||
      !read_int (from, "PRAGMA user_version", &version, error))
    {
      g_prefix_error (error, "%s: ", source);
      return FALSE;
    }
  if (application_id != PRDHUB_APPLICATION_ID)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_CORRUPT_DATA, "%s is not a prdhub database", source);
      return FALSE;
    }
  if (version > (int) G_N_ELEMENTS (migrations))
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_UNSUPPORTED_VERSION,
                   "%s has schema version %d, but this prdhub only knows versions up to %d; "
                   "use a newer prdhub",
                   source, version, (int) G_N_ELEMENTS (migrations));
      return FALSE;
    }
  if (schema_version != NULL)
    *schema_version = version;

  rc = sqlite3_open_v2 (dest, &to, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
  if (rc != SQLITE_OK)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_STORAGE, "Cannot create %s: %s", dest,
                   to != NULL ? sqlite3_errmsg (to) : sqlite3_errstr (rc));
      return FALSE;
    }
  if (!backup_database (from, to, source, dest, error))
    return FALSE;
  /* The copy is one file: reading it later (a restore opens a backup
   * read-only) must not make WAL files beside it. The hub turns WAL on
   * again when it opens a restored database. */
  if (sqlite3_exec (to, "PRAGMA journal_mode = DELETE", NULL, NULL, NULL) != SQLITE_OK)
    {
      set_sqlite_error (error, to, sqlite3_errcode (to), "Cannot make the copy one file");
      g_prefix_error (error, "%s: ", dest);
      return FALSE;
    }
  rc = sqlite3_prepare_v2 (to, "PRAGMA quick_check", -1, &check, NULL);
  if (rc != SQLITE_OK || (rc = sqlite3_step (check)) != SQLITE_ROW)
    {
      set_sqlite_error (error, to, rc, "Cannot check the copy");
      g_prefix_error (error, "%s: ", dest);
      return FALSE;
    }
  if (g_strcmp0 ((const char *) sqlite3_column_text (check, 0), "ok") != 0)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_CORRUPT_DATA, "The copy %s is damaged: %s", dest,
                   (const char *) sqlite3_column_text (check, 0));
      return FALSE;
    }
  return TRUE;
}

/**
 * prd_sqlite_store_check_unused:
 * @path: a database file that is about to be replaced
 *
 * Checks that no process has @path open, by taking and releasing an
 * exclusive lock: a running hub keeps its database open (in WAL mode every
 * connection holds a shared lock), so it is refused. A file that does not
 * exist, or that is not a database at all, is not in use.
 *
 * Returns: %FALSE with %PRD_ERROR_STORAGE when another process uses @path
 */
gboolean
prd_sqlite_store_check_unused (const char *path, GError **error)
{
  g_autoptr (sqlite3) db = NULL;
  int rc;

  g_return_val_if_fail (path != NULL, FALSE);

  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    return TRUE;
  if (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
    return TRUE;
  sqlite3_busy_timeout (db, 1000);
  rc = sqlite3_exec (db, "PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE; ROLLBACK", NULL, NULL,
                     NULL);
  if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_STORAGE,
                   "%s is in use (is a hub running on this data folder?); stop it first", path);
      return FALSE;
    }
  return TRUE;
}
