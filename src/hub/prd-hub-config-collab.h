/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "prd-hub-config.h"

G_BEGIN_DECLS

#define PRD_HUB_CONFIG_DEFAULT_BATCH_THRESHOLD    50
#define PRD_HUB_CONFIG_DEFAULT_BATCH_INTERVAL     50
#define PRD_HUB_CONFIG_DEFAULT_MAX_OPERATION_SIZE (64 * 1024)
#define PRD_HUB_CONFIG_DEFAULT_SNAPSHOT_EVERY     500
#define PRD_HUB_CONFIG_DEFAULT_AUTOSAVE_INTERVAL  300
#define PRD_HUB_CONFIG_MAX_AUTOSAVE_INTERVAL      86400
#define PRD_HUB_CONFIG_DEFAULT_MAX_JOINED_PRDS    100
#define PRD_HUB_CONFIG_DEFAULT_MAX_OPEN_ROOMS     10000
#define PRD_HUB_CONFIG_DEFAULT_MAX_PENDING_ACKS   1024
#define PRD_HUB_CONFIG_DEFAULT_MAX_DOCUMENT_SIZE  (1024 * 1024)
#define PRD_HUB_CONFIG_DEFAULT_MAX_SYNC_OPS       1000
#define PRD_HUB_CONFIG_DEFAULT_HISTORY_OPS        10000
#define PRD_HUB_CONFIG_DEFAULT_INSERT_UNITS       4096
#define PRD_HUB_CONFIG_DEFAULT_MAX_OPEN_COMMENTS  1000
#define PRD_HUB_CONFIG_DEFAULT_MAX_USER_COMMENTS  200
#define PRD_HUB_CONFIG_DEFAULT_MAX_REPLIES        100
#define PRD_HUB_CONFIG_DEFAULT_MAX_COMMENT_BYTES  (8 * 1024 * 1024)
#define PRD_HUB_CONFIG_DEFAULT_EMPTY_ROOM_GRACE   30
#define PRD_HUB_CONFIG_DEFAULT_MAX_QUEUED_LOADS   256

/* What the sizes in UTF-16 code units take on the wire at most, for the
 * checks against [engine] (prd-hub-config-collab.c): a unit takes up to 6
 * bytes of JSON (a control character is sent as `\u00XX`; a client may
 * escape any other unit so too; 3 bytes of UTF-8 is the most one takes
 * unescaped), and a content-update carries up to
 * PRD_HUB_CONFIG_EVENT_ENVELOPE bytes besides its text. */
#define PRD_HUB_CONFIG_BYTES_PER_UNIT 6
#define PRD_HUB_CONFIG_EVENT_ENVELOPE 1024

/**
 * PrdHubCollabConfig:
 *
 * The [collab] group, owned by collaboration and the rooms
 * (prd-hub-collab.c, prd-hub-room.c, prd-hub-room-registry.c).
 */
typedef struct
{
  guint batch_threshold;    /* events/s per room above which the room batches; 0: never */
  guint batch_interval;     /* ms between batch-update flushes */
  guint max_operation_size; /* UTF-16 code units of one content-update */
  guint snapshot_every;     /* appended operations between two snapshots */
  guint autosave_interval;  /* s between two auto-saves of a PRD with unsaved changes */
  guint max_joined_prds;    /* PRDs one connection may have joined at once */
  guint max_open_rooms;     /* rooms in memory at once */
  guint max_pending_acks;   /* content-updates of one connection awaiting their ack */
  guint max_document_size;  /* UTF-16 code units of a PRD's text */
  guint max_sync_ops;       /* missing operations a sync-response lists; beyond, the full state */
  guint history_ops;        /* operations read back through that count as one more event */
  guint insert_units;       /* UTF-16 code units inserted that count as one more event */
  guint max_open_comments;  /* open comments of one PRD */
  guint max_user_comments;  /* open comments of one user on one PRD */
  guint max_replies;        /* replies to one comment */
  guint max_comment_bytes;  /* what a PRD's open comments may weigh in joined-prd */
  guint empty_room_grace;   /* s an empty room stays loaded before it is unloaded */
  guint max_queued_loads;   /* PRD reads waiting for a document build, all clients together */
} PrdHubCollabConfig;

extern const PrdHubConfigSection prd_hub_collab_config_section;

static inline PrdHubCollabConfig *
prd_hub_config_get_collab (PrdHubConfig *config)
{
  return prd_hub_config_get_section (config, &prd_hub_collab_config_section);
}

G_END_DECLS
