/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The [collab] group of the hub's configuration, owned by collaboration and
 * the rooms. It lives beside prd-hub-config.c, in the prd-auth library, so
 * that the parser can list it (see there).
 *
 * [collab]
 *   batch-threshold     events per second in one PRD room above which the hub
 *                       sends batch-update instead of single events
 *                       (0 = never batch; default 50, at most 1000000)
 *   batch-interval      ms between two batch-update flushes (5–5000, default 50)
 *   max-operation-size  largest content-update, in UTF-16 code units of
 *                       inserted text or deleted characters (1–4194304,
 *                       default 65536)
 *   snapshot-every      operations appended between two snapshots of a PRD
 *                       (1–1000000, default 500); at least: a large PRD also
 *                       waits until they add up to a quarter of its last
 *                       snapshot's size (prd-hub-room.c)
 *   autosave-interval   seconds between two auto-saves (snapshot, auto-save-start,
 *                       auto-save-complete) of a PRD with unsaved changes
 *                       (1–86400, default 300; also `--autosave-interval`)
 *   max-joined-prds     PRDs one connection may have joined at once (1–100000,
 *                       default 100)
 *   max-open-rooms      PRDs open in memory at once, all clients together
 *                       (1–1000000, default 10000; a room nobody is in is
 *                       unloaded after empty-room-grace, or at once when
 *                       another PRD needs its place)
 *   empty-room-grace    seconds a room stays loaded after its last member
 *                       left, so that a rejoin does not load the PRD again
 *                       (0–3600, default 30; 0: unloaded at once)
 *   max-queued-loads    REST reads (GET /api/prds/{id}, export.md, comments)
 *                       of PRDs nobody has open that may wait for their
 *                       document to be built, all clients together
 *                       (1–1000000, default 256); the next one gets 429
 *                       RATE_LIMITED with Retry-After
 *   max-pending-acks    content-updates of one connection awaiting their ack
 *                       (1–1000000, default 1024); requests of any event
 *                       awaiting their answer may be 1024 more (prd-hub.c)
 *   max-document-size   longest text of a PRD, in UTF-16 code units: an
 *                       insert past it is refused (1–16777216, default 1048576)
 *   max-sync-operations missing operations a sync-response lists; a client
 *                       further behind gets the full state (1–1000000,
 *                       default 1000)
 *   history-ops-per-event
 *                       operations a position read at an older version walks
 *                       back through that count as one more event of the
 *                       request's rate-limit class (1–1000000000, default
 *                       10000; prd_hub_charge_history())
 *   insert-units-per-event
 *                       UTF-16 code units one content-update inserts that
 *                       count as one more event of its rate-limit class
 *                       (1–4194304, default 4096); a new PRD's content
 *                       counts so against [rate-limit] rest (prd-hub-rest-prds.c)
 *   max-open-comments   open (unresolved) comments of one PRD (1–100000,
 *                       default 1000)
 *   max-open-comments-per-user
 *                       open comments of one user on one PRD (1–100000,
 *                       default 200)
 *   max-replies         replies to one comment (1–100000, default 100)
 *   max-open-comments-bytes
 *                       what the open comments of one PRD, their replies
 *                       included, may weigh in `joined-prd`, as
 *                       prd-hub-comments.c counts it (65536–1073741824,
 *                       default 8 MiB: half of [engine] max-write-buffer)
 *
 * Against [engine], once both are set (collab_validate_with()), what cannot
 * work is refused. Text travels as JSON, where a UTF-16 unit takes up to 6
 * bytes (a control character, `\u0001`; a client may escape any unit so):
 *   max-operation-size × 6 + 1024 ≤ max-payload: the largest insert and
 *     the rest of its content-update fit in one message (a larger one
 *     closes the connection, 1009, instead of being refused
 *     PAYLOAD_TOO_LARGE);
 *   max-document-size × 6 ≤ max-write-buffer: joined-prd holds the whole
 *     text as JSON (and its encoded state and comments besides): a larger
 *     one disconnects every client that joins the PRD.
 * The defaults pass (393,216 + 1,024 ≤ 1,000,000; 6 MiB ≤ 16 MiB).
 */
#define G_LOG_DOMAIN "prd-hub-config"

#include "config.h"

#include "prd-error.h"

#include "prd-hub-config-server.h"

#include "prd-hub-config-collab.h"

static void
collab_init (gpointer data)
{
  PrdHubCollabConfig *self = data;

  self->batch_threshold = PRD_HUB_CONFIG_DEFAULT_BATCH_THRESHOLD;
  self->batch_interval = PRD_HUB_CONFIG_DEFAULT_BATCH_INTERVAL;
  self->max_operation_size = PRD_HUB_CONFIG_DEFAULT_MAX_OPERATION_SIZE;
  self->snapshot_every = PRD_HUB_CONFIG_DEFAULT_SNAPSHOT_EVERY;
  self->autosave_interval = PRD_HUB_CONFIG_DEFAULT_AUTOSAVE_INTERVAL;
  self->max_joined_prds = PRD_HUB_CONFIG_DEFAULT_MAX_JOINED_PRDS;
  self->max_open_rooms = PRD_HUB_CONFIG_DEFAULT_MAX_OPEN_ROOMS;
  self->max_pending_acks = PRD_HUB_CONFIG_DEFAULT_MAX_PENDING_ACKS;
  self->max_document_size = PRD_HUB_CONFIG_DEFAULT_MAX_DOCUMENT_SIZE;
  self->max_sync_ops = PRD_HUB_CONFIG_DEFAULT_MAX_SYNC_OPS;
  self->history_ops = PRD_HUB_CONFIG_DEFAULT_HISTORY_OPS;
  self->insert_units = PRD_HUB_CONFIG_DEFAULT_INSERT_UNITS;
  self->max_open_comments = PRD_HUB_CONFIG_DEFAULT_MAX_OPEN_COMMENTS;
  self->max_user_comments = PRD_HUB_CONFIG_DEFAULT_MAX_USER_COMMENTS;
  self->max_replies = PRD_HUB_CONFIG_DEFAULT_MAX_REPLIES;
  self->max_comment_bytes = PRD_HUB_CONFIG_DEFAULT_MAX_COMMENT_BYTES;
  self->empty_room_grace = PRD_HUB_CONFIG_DEFAULT_EMPTY_ROOM_GRACE;
  self->max_queued_loads = PRD_HUB_CONFIG_DEFAULT_MAX_QUEUED_LOADS;
}

static gboolean
set_uint (
    guint *field, const char *key, const char *value, guint64 min, guint64 max, GError **error)
{
  guint64 v;

  if (!prd_hub_config_parse_uint ("collab", key, value, min, max, &v, error))
    return FALSE;
  *field = (guint) v;
  return TRUE;
}

static gboolean
collab_set (gpointer data,
            const char *group,
            const char *key,
            const char *value,
            const char *base_dir,
            GError **error)
{
  PrdHubCollabConfig *self = data;

  if (g_str_equal (key, "batch-threshold"))
    return set_uint (&self->batch_threshold, key, value, 0, 1000000, error);
  if (g_str_equal (key, "batch-interval"))
    return set_uint (&self->batch_interval, key, value, 5, 5000, error);
  if (g_str_equal (key, "max-operation-size"))
    return set_uint (&self->max_operation_size, key, value, 1, 4 * 1024 * 1024, error);
  if (g_str_equal (key, "snapshot-every"))
    return set_uint (&self->snapshot_every, key, value, 1, 1000000, error);
  if (g_str_equal (key, "autosave-interval"))
    return set_uint (&self->autosave_interval, key, value, 1, PRD_HUB_CONFIG_MAX_AUTOSAVE_INTERVAL,
                     error);
  if (g_str_equal (key, "max-joined-prds"))
    return set_uint (&self->max_joined_prds, key, value, 1, 100000, error);
  if (g_str_equal (key, "max-open-rooms"))
    return set_uint (&self->max_open_rooms, key, value, 1, 1000000, error);
  if (g_str_equal (key, "max-pending-acks"))
    return set_uint (&self->max_pending_acks, key, value, 1, 1000000, error);
  if (g_str_equal (key, "max-document-size"))
    return set_uint (&self->max_document_size, key, value, 1, 16 * 1024 * 1024, error);
  if (g_str_equal (key, "max-sync-operations"))
    return set_uint (&self->max_sync_ops, key, value, 1, 1000000, error);
  if (g_str_equal (key, "history-ops-per-event"))
    return set_uint (&self->history_ops, key, value, 1, 1000000000, error);
  if (g_str_equal (key, "insert-units-per-event"))
    return set_uint (&self->insert_units, key, value, 1, 4 * 1024 * 1024, error);
  if (g_str_equal (key, "max-open-comments"))
    return set_uint (&self->max_open_comments, key, value, 1, 100000, error);
  if (g_str_equal (key, "max-open-comments-per-user"))
    return set_uint (&self->max_user_comments, key, value, 1, 100000, error);
  if (g_str_equal (key, "max-replies"))
    return set_uint (&self->max_replies, key, value, 1, 100000, error);
  if (g_str_equal (key, "max-open-comments-bytes"))
    return set_uint (&self->max_comment_bytes, key, value, 65536, 1024 * 1024 * 1024, error);
  if (g_str_equal (key, "empty-room-grace"))
    return set_uint (&self->empty_room_grace, key, value, 0, 3600, error);
  if (g_str_equal (key, "max-queued-loads"))
    return set_uint (&self->max_queued_loads, key, value, 1, 1000000, error);
  prd_hub_config_set_unknown_key_error (error, group, key);
  return FALSE;
}

/* Sizes in UTF-16 code units against the [engine] byte limits they must
 * fit in (see the top of this file). */
static gboolean
collab_validate_with (gconstpointer data, PrdHubConfig *config, GError **error)
{
  const PrdHubCollabConfig *self = data;
  const PrdHubEngineConfig *engine = prd_hub_config_get_engine (config);
  guint64 operation_bytes = (guint64) self->max_operation_size * PRD_HUB_CONFIG_BYTES_PER_UNIT +
                            PRD_HUB_CONFIG_EVENT_ENVELOPE;
  guint64 document_bytes = (guint64) self->max_document_size * PRD_HUB_CONFIG_BYTES_PER_UNIT;

  if (operation_bytes > engine->max_payload)
    {
      g_set_error (
          error, PRD_ERROR, PRD_ERROR_CONFIG,
          "[collab] max-operation-size (%u) does not fit in [engine] max-payload "
          "(%" G_GUINT64_FORMAT "): an insert takes up to %d bytes of JSON per UTF-16 unit "
          "(a control character) plus %d for the rest of its content-update, so max-payload must "
          "be at least %" G_GUINT64_FORMAT " (or max-operation-size at most %" G_GUINT64_FORMAT ")",
          self->max_operation_size, engine->max_payload, PRD_HUB_CONFIG_BYTES_PER_UNIT,
          PRD_HUB_CONFIG_EVENT_ENVELOPE, operation_bytes,
          engine->max_payload > PRD_HUB_CONFIG_EVENT_ENVELOPE
              ? (engine->max_payload - PRD_HUB_CONFIG_EVENT_ENVELOPE) /
                    PRD_HUB_CONFIG_BYTES_PER_UNIT
              : 0);
      return FALSE;
    }
  if (document_bytes > engine->max_write_buffer)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG,
                   "[collab] max-document-size (%u) does not fit in [engine] max-write-buffer "
                   "(%" G_GUINT64_FORMAT "): joined-prd holds the whole text, up to %d bytes of "
                   "JSON per UTF-16 unit (a control character), so max-write-buffer must be at "
                   "least %" G_GUINT64_FORMAT " (or max-document-size at most %" G_GUINT64_FORMAT
                   ")",
                   self->max_document_size, engine->max_write_buffer, PRD_HUB_CONFIG_BYTES_PER_UNIT,
                   document_bytes, engine->max_write_buffer / PRD_HUB_CONFIG_BYTES_PER_UNIT);
      return FALSE;
    }
  return TRUE;
}

const PrdHubConfigSection prd_hub_collab_config_section = {
  .name = "collab",
  .settings_size = sizeof (PrdHubCollabConfig),
  .init = collab_init,
  .set = collab_set,
  .validate_with = collab_validate_with,
};
