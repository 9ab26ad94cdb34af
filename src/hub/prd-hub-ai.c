/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The /prds AI events: ai-prompt queues a job; when it runs, the answer is
 * streamed to the room and, unless the prompt asked for a preview, written
 * into the PRD by the hub's AI site at an anchor that follows the text while
 * others type. ai-cancel stops a job, ai-review asks for suggestions.
 */
#define G_LOG_DOMAIN "prd-hub-ai"

#include "config.h"

#include "prd-ai-prompt.h"
#include "prd-ai-queue.h"
#include "prd-error.h"
#include "prd-hub-config-ai.h"
#include "prd-hub-config-collab.h"
#include "prd-hub-context.h"
#include "prd-json.h"
#include "prd-openai-provider.h"

#include "prd-hub-ai-private.h"
#include "prd-hub-ai.h"

/* The hub's AI site writes into a room as this user. */
#define AI_USER      PRD_AUTH_AI_USER_ID
#define AI_USER_NAME "AI Assistant"

struct _PrdHubAi
{
  GObject parent_instance;

  PrdSioNamespace *nsp;      /* (unowned) weak */
  PrdHubRoomRegistry *rooms; /* (owned) */
  PrdStore *store;           /* (owned) */
  PrdAiJobStore *job_store;  /* (owned) */
  PrdHubConfig *config;      /* (owned) */
  PrdAiProvider *provider;
  PrdAiQueue *queue;
  GHashTable *jobs;         /* job id → PrdAiJob (owned), from submit to the end */
  guint reviews;            /* ai-review requests at the provider */
  GHashTable *reviewers;    /* (owned) user keys (prd_ai_user_key()) with a review there */
  GHashTable *under_review; /* (owned) review id → Review (unowned), while at the provider */
  gboolean stopping;        /* prd_hub_ai_shutdown(): no job starts any more */
  /* The end of a job that the store refused to record (a full disk): kept
   * and saved again, and ai-job-status answers from it meanwhile. */
  PrdHubAiUnsaved *unsaved; /* (owned) */
  guint unsaved_retrying;   /* saves of kept records under way */
  guint unsaved_retry_id;   /* the retry timer, while records are kept */
};

G_DEFINE_FINAL_TYPE (PrdHubAi, prd_hub_ai, G_TYPE_OBJECT)

enum
{
  SIGNAL_JOB_CHANGED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void on_room_closed (PrdHubRoomRegistry *rooms, const char *prd_id, gpointer user_data);
static void drop_pending (PrdAiJob *job);

static void
notify_job (PrdHubAi *self, PrdAiJob *job)
{
  g_signal_emit (self, signals[SIGNAL_JOB_CHANGED], 0, job);
}

typedef struct
{
  PrdHubAi *self;       /* (unowned): the job ends before we go */
  PrdSioSocket *socket; /* (owned) the requester */
  gint64 iat;           /* the `iat` of the requester's token when they asked */
  PrdHubRoom *room;     /* (owned) held while the job lives */
  char *selected_text;
  gboolean insert;
  PrdCrdtAnchor anchor;
  int site;
  GString *text;
  guint32 streamed_units;
  /* Deltas not yet written nor sent (one piece, merged), and the source
   * that writes them: at most one piece per [ai] chunk-interval. */
  GString *pending;
  guint32 pending_units;
  guint flush_id;
  gint64 flushed_at; /* monotonic µs of the last piece written, 0: none yet */
  gboolean cancel_requested;
  GError *write_error;
  PrdAiResponse *response;
  GPtrArray *suggest_messages;
} JobData;

static void
job_data_free (JobData *data)
{
  g_clear_object (&data->socket);
  g_clear_pointer (&data->room, prd_hub_room_release);
  g_free (data->selected_text);
  if (data->text != NULL)
    g_string_free (data->text, TRUE);
  g_clear_handle_id (&data->flush_id, g_source_remove);
  if (data->pending != NULL)
    g_string_free (data->pending, TRUE);
  g_clear_error (&data->write_error);
  g_clear_pointer (&data->response, prd_ai_response_unref);
  g_clear_pointer (&data->suggest_messages, g_ptr_array_unref);
  g_free (data);
}

/* ---- persistence ----------------------------------------------------------- */

/* Seconds between two tries to save the kept records; a job record saved
 * in between (the database takes writes again) tries at once. */
#define UNSAVED_RETRY_INTERVAL 5

struct _PrdHubAiUnsaved
{
  guint max;
  GHashTable *records; /* (owned) job id → PrdAiJobRecord (owned) */
  GQueue order;        /* (element-type PrdAiJobRecord) (unowned) oldest first */
};

/* Returns: (transfer full): a keeper of at most @max records */
PrdHubAiUnsaved *
prd_hub_ai_unsaved_new (guint max)
{
  PrdHubAiUnsaved *self;

  g_return_val_if_fail (max > 0, NULL);

  self = g_new0 (PrdHubAiUnsaved, 1);
  self->max = max;
  self->records = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                         (GDestroyNotify) prd_ai_job_record_free);
  g_queue_init (&self->order);
  return self;
}

void
prd_hub_ai_unsaved_free (PrdHubAiUnsaved *self)
{
  if (self == NULL)
    return;
  g_queue_clear (&self->order);
  g_hash_table_unref (self->records);
  g_free (self);
}

/* Whether a record of @job_id was kept (it is forgotten now). */
gboolean
prd_hub_ai_unsaved_forget (PrdHubAiUnsaved *self, const char *job_id)
{
  PrdAiJobRecord *record = g_hash_table_lookup (self->records, job_id);

  if (record == NULL)
    return FALSE;
  g_queue_remove (&self->order, record);
  g_hash_table_remove (self->records, job_id);
  return TRUE;
}

/**
 * prd_hub_ai_unsaved_keep:
 * @record: (transfer full): a job's end
 *
 * Keeps @record in place of any earlier one of its job; when that makes
 * more than the maximum, the oldest is forgotten.
 *
 * Returns: (transfer full) (nullable): the job id of the record forgotten
 */
char *
prd_hub_ai_unsaved_keep (PrdHubAiUnsaved *self, PrdAiJobRecord *record)
{
  char *forgotten = NULL;

  prd_hub_ai_unsaved_forget (self, record->id);
  if (g_hash_table_size (self->records) >= self->max)
    {
      forgotten = g_strdup (((PrdAiJobRecord *) g_queue_peek_head (&self->order))->id);
      prd_hub_ai_unsaved_forget (self, forgotten);
    }
  g_queue_push_tail (&self->order, record);
  g_hash_table_insert (self->records, record->id, record);
  return forgotten;
}

/* (nullable): the kept record of @job_id */
const PrdAiJobRecord *
prd_hub_ai_unsaved_lookup (PrdHubAiUnsaved *self, const char *job_id)
{
  return g_hash_table_lookup (self->records, job_id);
}

guint
prd_hub_ai_unsaved_get_size (PrdHubAiUnsaved *self)
{
  return g_hash_table_size (self->records);
}

/* Returns: (transfer container) (element-type PrdAiJobRecord): the kept
 * records, oldest first, valid until the keeper changes */
GPtrArray *
prd_hub_ai_unsaved_list (PrdHubAiUnsaved *self)
{
  GPtrArray *list = g_ptr_array_sized_new (self->order.length);

  for (GList *l = self->order.head; l != NULL; l = l->next)
    g_ptr_array_add (list, l->data);
  return list;
}

typedef struct
{
  PrdHubAi *self;         /* (owned) */
  PrdAiJobRecord *record; /* (owned) */
  gboolean retry;         /* a kept record saved again */
} SaveRequest;

static void save_unsaved (PrdHubAi *self);

static void
save_request_free (SaveRequest *request)
{
  g_object_unref (request->self);
  prd_ai_job_record_free (request->record);
  g_free (request);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SaveRequest, save_request_free)

static gboolean
record_is_final (const PrdAiJobRecord *record)
{
  return g_strcmp0 (record->state, "queued") != 0 && g_strcmp0 (record->state, "streaming") != 0;
}

static void
forget_unsaved (PrdHubAi *self, const char *job_id)
{
  if (prd_hub_ai_unsaved_forget (self->unsaved, job_id) &&
      prd_hub_ai_unsaved_get_size (self->unsaved) == 0)
    g_clear_handle_id (&self->unsaved_retry_id, g_source_remove);
}

static gboolean
on_unsaved_retry (gpointer user_data)
{
  PrdHubAi *self = user_data;

  if (self->unsaved_retrying == 0)
    save_unsaved (self);
  return G_SOURCE_CONTINUE;
}

/* Keeps @record (a job's end the store refused) until a save succeeds. */
static void
keep_unsaved (PrdHubAi *self, PrdAiJobRecord *record)
{
  g_autofree char *forgotten = prd_hub_ai_unsaved_keep (self->unsaved, record);

  if (forgotten != NULL)
    g_warning ("More than %d AI job ends wait for the database; forgetting that of %s",
               PRD_HUB_AI_MAX_UNSAVED_JOBS, forgotten);
  if (self->unsaved_retry_id == 0)
    self->unsaved_retry_id = g_timeout_add_seconds (UNSAVED_RETRY_INTERVAL, on_unsaved_retry, self);
}

static void
on_job_saved (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (SaveRequest) request = user_data;
  PrdHubAi *self = request->self;
  g_autoptr (GError) error = NULL;
  gboolean saved = prd_ai_job_store_save_finish (PRD_AI_JOB_STORE (source), result, &error);

  if (request->retry)
    self->unsaved_retrying--;
  if (self->unsaved == NULL) /* disposed */
    return;
  if (saved)
    {
      if (request->retry)
        {
          g_message ("The end of AI job %s, which waited for the database, is recorded",
                     request->record->id);
          forget_unsaved (self, request->record->id);
        }
      /* The database takes writes again. */
      else if (prd_hub_ai_unsaved_get_size (self->unsaved) > 0 && self->unsaved_retrying == 0)
        save_unsaved (self);
      return;
    }
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) || request->retry)
    return;
  if (!record_is_final (request->record))
    {
      g_warning ("Cannot record an AI job: %s", error->message);
      return;
    }
  g_warning ("Cannot record the end of AI job %s: %s; kept to be saved again", request->record->id,
             error->message);
  keep_unsaved (self, g_steal_pointer (&request->record));
}

static void
save_record (PrdHubAi *self, const PrdAiJobRecord *record, gboolean retry)
{
  SaveRequest *request = g_new0 (SaveRequest, 1);

  request->self = g_object_ref (self);
  request->record = prd_ai_job_record_copy (record);
  request->retry = retry;
  if (retry)
    self->unsaved_retrying++;
  prd_ai_job_store_save_async (self->job_store, record, NULL, on_job_saved, request);
}

/* Saves every kept record again. */
static void
save_unsaved (PrdHubAi *self)
{
  g_autoptr (GPtrArray) records = prd_hub_ai_unsaved_list (self->unsaved);

  for (guint i = 0; i < records->len; i++)
    save_record (self, g_ptr_array_index (records, i), TRUE);
}

static void
save_job (PrdHubAi *self, PrdAiJob *job)
{
  PrdAiJobRecord record = {
    .id = job->id,
    .prd_id = job->prd_id,
    .org = job->org,
    .user_id = job->user_id,
    .prompt = job->prompt,
    .section = job->section,
    .state = (char *) prd_ai_job_state_to_string (job->state),
    .tokens = job->tokens,
    .duration = job->duration,
    .error_code = job->error_code,
    .error_message = job->error_message,
    .created_at = job->created_at,
    .updated_at = g_get_real_time () / 1000,
  };

  /* A newer record of the job replaces a kept one. */
  forget_unsaved (self, job->id);
  save_record (self, &record, FALSE);
}

/* ---- replies --------------------------------------------------------------- */

static JsonNode *
error_payload (const char *job_id, const GError *error, guint retry_after, guint http_status)
{
  g_autoptr (JsonNode) inner = prd_hub_error_to_json (error);
  JsonObject *object = json_object_new ();
  JsonNode *node = json_node_new (JSON_NODE_OBJECT);
  JsonObject *err = json_node_get_object (inner);

  if (retry_after > 0)
    json_object_set_int_member (err, "retryAfter", retry_after);
  if (http_status > 0)
    json_object_set_int_member (err, "status", http_status);
  if (job_id != NULL)
    json_object_set_string_member (object, "jobId", job_id);
  else
    json_object_set_null_member (object, "jobId");
  json_object_set_member (object, "error", g_steal_pointer (&inner));
  json_node_take_object (node, object);
  return node;
}

/* ai-error to the requester, and an error ack. */
static void
reply_ai_error (
    PrdSioSocket *socket, gint64 ack_id, const char *job_id, const GError *error, guint retry_after)
{
  g_autoptr (JsonNode) payload = error_payload (job_id, error, retry_after, 0);

  if (prd_sio_socket_is_connected (socket))
    prd_sio_socket_emit_one (socket, "ai-error", payload);
  if (ack_id >= 0)
    {
      JsonObject *err = json_object_get_object_member (json_node_get_object (payload), "error");
      JsonObject *inner = json_object_new ();
      JsonObject *object = json_object_new ();

      /* The ack's error is every ack's { code, message }, and retryAfter
       * when there is one; the timestamp is the ai-error event's. */
      json_object_set_string_member (inner, "code", json_object_get_string_member (err, "code"));
      json_object_set_string_member (inner, "message",
                                     json_object_get_string_member (err, "message"));
      if (retry_after > 0)
        json_object_set_int_member (inner, "retryAfter", retry_after);
      json_object_set_object_member (object, "error", inner);
      prd_hub_ack (socket, ack_id, object);
    }
}

static void
reply_ai_error_literal (PrdSioSocket *socket, gint64 ack_id, PrdErrorCode code, const char *message)
{
  g_autoptr (GError) error = g_error_new_literal (PRD_ERROR, code, message);

  reply_ai_error (socket, ack_id, NULL, error, 0);
}

/* ---- ending a job ------------------------------------------------------------ */

/* @payload to every /prds connection of one user, joined or not. */
static void
emit_to_user (
    PrdHubAi *self, const char *org, const char *user_id, const char *event, JsonNode *payload)
{
  g_autoptr (GPtrArray) sockets = NULL;

  if (self->nsp == NULL)
    return;
  sockets = prd_sio_namespace_get_room_sockets (self->nsp, NULL);
  for (guint i = 0; sockets != NULL && i < sockets->len; i++)
    {
      PrdSioSocket *socket = g_ptr_array_index (sockets, i);
      const PrdIdentity *identity = prd_hub_socket_get_identity (socket);

      if (identity != NULL && g_strcmp0 (identity->org, org) == 0 &&
          g_strcmp0 (identity->user_id, user_id) == 0 && prd_sio_socket_is_connected (socket))
        prd_sio_socket_emit_one (socket, event, payload);
    }
}

/* Whether another job that @job's connection asked for in the same room is
 * still streaming: its "ai-prompting" lasts until the last one ends. */
static gboolean
connection_still_prompting (PrdHubAi *self, PrdAiJob *job)
{
  JobData *data = job->data;
  GHashTableIter iter;
  PrdAiJob *other;

  g_hash_table_iter_init (&iter, self->jobs);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &other))
    {
      JobData *other_data = other->data;

      if (other != job && other->state == PRD_AI_JOB_STREAMING &&
          other_data->socket == data->socket && other_data->room == data->room)
        return TRUE;
    }
  return FALSE;
}

static void
job_end (PrdHubAi *self,
         PrdAiJob *job,
         PrdAiJobState state,
         const GError *error,
         guint retry_after,
         guint http_status)
{
  JobData *data = job->data;
  g_autoptr (PrdAiJob) held = prd_ai_job_ref (job);

  /* Whatever is still pending is not written: the job ends here. */
  drop_pending (job);
  if (error != NULL)
    {
      g_autoptr (JsonNode) payload = error_payload (job->id, error, retry_after, http_status);

      prd_ai_job_set_error (job, prd_error_get_protocol_code (error), error->message);
      /* Everyone who saw the stream start learns that it stopped; a job
       * that had not started, or whose room was closed under it (nobody is
       * in it any more), its requester: on the connection that asked, or,
       * when that one is gone (a reconnect), on each of theirs in the PRD,
       * or on /prds when the room is closed. */
      if (job->state == PRD_AI_JOB_STREAMING && data->room != NULL &&
          prd_hub_room_is_open (data->room))
        prd_hub_room_emit (data->room, "ai-error", payload);
      else if (prd_sio_socket_is_connected (data->socket))
        prd_sio_socket_emit_one (data->socket, "ai-error", payload);
      else if (data->room != NULL && prd_hub_room_is_open (data->room))
        prd_hub_room_emit_to_user (data->room, job->org, job->user_id, "ai-error", payload);
      else
        emit_to_user (self, job->org, job->user_id, "ai-error", payload);
    }
  if (job->state == PRD_AI_JOB_STREAMING)
    {
      /* The status is the connection's: when it left first, it went with it
       * (nothing to restore, prd_room_set_status() finds no member). */
      if (data->room != NULL && !connection_still_prompting (self, job))
        prd_hub_room_set_status (data->room, data->socket, "editing");
      prd_ai_queue_finish (self->queue, job, state, g_get_monotonic_time ());
    }
  else
    job->state = state;
  /* One line per job, when it ends. */
  g_info ("ai job: id=%s prd=%s user=%s org=%s state=%s%s%s", job->id, job->prd_id, job->user_id,
          job->org, prd_ai_job_state_to_string (state), error != NULL ? " code=" : "",
          error != NULL ? prd_error_get_protocol_code (error) : "");
  save_job (self, job);
  notify_job (self, job);
  g_clear_pointer (&data->room, prd_hub_room_release);
  g_hash_table_remove (self->jobs, job->id);
}

/* ---- suggestions ------------------------------------------------------------- */

static const char *const suggestion_types[] = {
  "improvement", "diagram", "missing-section", "clarification", "risk", "example", NULL,
};

/* The model's answer as a JSON array of objects, fences and all; NULL when not. */
static JsonArray *
parse_json_array (const char *text)
{
  g_autoptr (JsonNode) root = NULL;
  const char *start, *end;

  if (text == NULL)
    return NULL;
  start = strchr (text, '[');
  end = strrchr (text, ']');
  if (start == NULL || end == NULL || end < start)
    return NULL;
  root = prd_json_parse (start, end - start + 1, 0, NULL);
  if (root == NULL || !JSON_NODE_HOLDS_ARRAY (root))
    return NULL;
  return json_array_ref (json_node_get_array (root));
}

static const char *
string_member (JsonObject *object, const char *name, gsize max_len)
{
  JsonNode *node = json_object_get_member (object, name);
  const char *value;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  value = json_node_get_string (node);
  if (*value == '\0' || strlen (value) > max_len || !g_utf8_validate (value, -1, NULL))
    return NULL;
  return value;
}

/* Valid suggestions of @text: {type, description} (and, when @review,
 * section, title and confidence in [0, 1]); an invalid answer gives none.
 * A review's section is the slug of one of @headings (the slugs of the
 * PRD's headings), else null. */
static JsonArray *
validated_suggestions (const char *text, gboolean review, GHashTable *headings)
{
  g_autoptr (JsonArray) parsed = parse_json_array (text);
  JsonArray *out = json_array_new ();

  for (guint i = 0; parsed != NULL && i < json_array_get_length (parsed) && i < 10; i++)
    {
      JsonNode *node = json_array_get_element (parsed, i);
      JsonObject *object, *clean;
      const char *type, *description;

      if (!JSON_NODE_HOLDS_OBJECT (node))
        continue;
      object = json_node_get_object (node);
      type = string_member (object, "type", 64);
      description = string_member (object, "description", 2000);
      if (type == NULL || description == NULL || !g_strv_contains (suggestion_types, type))
        continue;
      clean = json_object_new ();
      json_object_set_string_member (clean, "type", type);
      if (review)
        {
          const char *section = string_member (object, "section", 200);
          const char *title = string_member (object, "title", 200);
          JsonNode *confidence = json_object_get_member (object, "confidence");
          double value;

          if (title == NULL || confidence == NULL || !JSON_NODE_HOLDS_VALUE (confidence) ||
              (json_node_get_value_type (confidence) != G_TYPE_DOUBLE &&
               json_node_get_value_type (confidence) != G_TYPE_INT64))
            {
              json_object_unref (clean);
              continue;
            }
          value = json_node_get_double (confidence);
          if (value < 0 || value > 1)
            {
              json_object_unref (clean);
              continue;
            }
          {
            g_autofree char *slug = section != NULL ? prd_ai_slugify (section) : NULL;

            if (slug != NULL && headings != NULL && g_hash_table_contains (headings, slug))
              json_object_set_string_member (clean, "section", slug);
            else
              json_object_set_null_member (clean, "section");
          }
          json_object_set_string_member (clean, "title", title);
          json_object_set_string_member (clean, "description", description);
          json_object_set_double_member (clean, "confidence", value);
        }
      else
        json_object_set_string_member (clean, "description", description);
      json_array_add_object_element (out, clean);
    }
  return out;
}

static void
on_suggestions (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (PrdAiJob) job = user_data;
  JobData *data = job->data;
  PrdHubAi *self = data->self;
  g_autoptr (PrdAiResponse) response = NULL;
  g_autoptr (JsonArray) suggestions = NULL;
  g_autoptr (JsonNode) payload = json_node_new (JSON_NODE_OBJECT);
  JsonObject *object = json_object_new ();
  gint64 tokens;

  prd_ai_provider_complete_finish (PRD_AI_PROVIDER (source), result, &response, NULL);
  if (self == NULL) /* the hub went away */
    return;
  if (data->cancel_requested)
    {
      g_autoptr (GError) error =
          g_error_new_literal (PRD_ERROR, PRD_ERROR_CANCELLED, "The AI job was cancelled");
      job_end (self, job, PRD_AI_JOB_CANCELLED, error, 0, 0);
      return;
    }
  suggestions = validated_suggestions (response != NULL ? response->text : NULL, FALSE, NULL);
  tokens = prd_ai_response_get_tokens_used (data->response);
  job->tokens = MAX (tokens, 0);
  json_node_take_object (payload, object);
  json_object_set_string_member (object, "jobId", job->id);
  json_object_set_string_member (object, "prdId", job->prd_id);
  json_object_set_string_member (object, "fullResponse", data->text->str);
  json_object_set_int_member (object, "tokensUsed", job->tokens);
  json_object_set_int_member (object, "duration",
                              (g_get_monotonic_time () - job->started_at) / 1000);
  json_object_set_array_member (object, "suggestions", g_steal_pointer (&suggestions));
  if (data->room != NULL)
    prd_hub_room_emit (data->room, "ai-stream-complete", payload);
  job_end (self, job, PRD_AI_JOB_COMPLETE, NULL, 0, 0);
}

/* ---- streaming ------------------------------------------------------------------ */

/* Forgets the deltas not yet written: a cancelled or ended job writes
 * nothing more. */
static void
drop_pending (PrdAiJob *job)
{
  JobData *data = job->data;

  g_clear_handle_id (&data->flush_id, g_source_remove);
  if (data->pending != NULL)
    g_string_truncate (data->pending, 0);
  data->pending_units = 0;
}

/* Writes the pending deltas as one piece: one room write (with insert),
 * one ai-stream-chunk. */
static void
flush_pending (PrdAiJob *job)
{
  JobData *data = job->data;
  g_autoptr (JsonNode) payload = NULL;
  g_autoptr (GError) error = NULL;
  JsonObject *object;
  guint32 position = 0, units = data->pending_units;
  const char *piece;

  g_clear_handle_id (&data->flush_id, g_source_remove);
  if (data->pending == NULL || data->pending->len == 0)
    return;
  if (data->self == NULL || prd_ai_job_is_finished (job) || data->write_error != NULL ||
      data->room == NULL || data->cancel_requested)
    {
      drop_pending (job);
      return;
    }
  piece = data->pending->str;
  data->flushed_at = g_get_monotonic_time ();
  if (!prd_crdt_doc_anchor_resolve (prd_document_get_crdt (prd_hub_room_get_document (data->room)),
                                    &data->anchor, &position, &error))
    position = 0;
  if (data->insert)
    {
      PrdCrdtDoc *crdt;

      if (!prd_hub_room_write (data->room, (guint32) data->site, AI_USER, AI_USER, AI_USER_NAME,
                               TRUE, position, piece, 0, &error))
        {
          data->write_error = g_steal_pointer (&error);
          drop_pending (job);
          g_cancellable_cancel (job->cancellable);
          return;
        }
      /* The next piece goes right after this one, whatever others typed. */
      crdt = prd_document_get_crdt (prd_hub_room_get_document (data->room));
      prd_crdt_doc_anchor_at (crdt, position + units, PRD_CRDT_ASSOC_BEFORE, &data->anchor, NULL);
    }
  else
    position += data->streamed_units;
  data->streamed_units += units;
  g_string_append_len (data->text, piece, (gssize) data->pending->len);
  job->chunks++;

  payload = json_node_new (JSON_NODE_OBJECT);
  object = json_object_new ();
  json_node_take_object (payload, object);
  json_object_set_string_member (object, "jobId", job->id);
  json_object_set_string_member (object, "chunk", piece);
  json_object_set_int_member (object, "position", position);
  json_object_set_boolean_member (object, "isComplete", FALSE);
  g_string_truncate (data->pending, 0);
  data->pending_units = 0;
  notify_job (data->self, job);
  prd_hub_room_emit (data->room, "ai-stream-chunk", payload);
}

static gboolean
on_flush (gpointer user_data)
{
  PrdAiJob *job = user_data;
  JobData *data = job->data;

  data->flush_id = 0;
  flush_pending (job);
  return G_SOURCE_REMOVE;
}

/* A delta is kept with those not yet written; the next piece goes when
 * the main loop next gets to it, and no sooner than [ai] chunk-interval
 * after the last one, so that a provider sending many small deltas costs
 * at most one room write and one ai-stream-chunk per interval. Deltas are
 * whole characters (UTF-8 of a JSON string without unpaired surrogates),
 * so a piece made of them is too. */
static void
on_delta (const char *delta, gpointer user_data)
{
  PrdAiJob *job = user_data;
  JobData *data = job->data;
  guint32 units = 0;
  guint max_size;
  gint64 due;

  if (data->self == NULL || prd_ai_job_is_finished (job) || data->write_error != NULL ||
      data->room == NULL || data->cancel_requested)
    return;
  prd_utf16_length (delta, &units);
  max_size = prd_hub_config_get_collab (data->self->config)->max_document_size;
  /* A preview is sent to the room, and whole again in ai-stream-complete:
   * it is held to what a PRD may hold, as an inserted answer is (by
   * prd_hub_room_write()). A longer one could never be inserted. What
   * fits goes out first. */
  if (!data->insert && (guint64) data->streamed_units + data->pending_units + units > max_size)
    {
      flush_pending (job);
      if (data->write_error == NULL)
        data->write_error =
            g_error_new (PRD_ERROR, PRD_ERROR_LIMIT_REACHED,
                         "The AI's answer is longer than a PRD may hold (%u UTF-16 code units, "
                         "max-document-size); the preview stops here",
                         max_size);
      g_cancellable_cancel (job->cancellable);
      return;
    }
  if (data->pending == NULL)
    data->pending = g_string_new (NULL);
  g_string_append (data->pending, delta);
  data->pending_units += units;
  if (data->flush_id != 0)
    return;
  due = data->flushed_at == 0
            ? 0
            : data->flushed_at +
                  (gint64) prd_hub_config_get_ai (data->self->config)->chunk_interval * 1000 -
                  g_get_monotonic_time ();
  if (due <= 0)
    data->flush_id = g_idle_add_full (G_PRIORITY_DEFAULT, on_flush, prd_ai_job_ref (job),
                                      (GDestroyNotify) prd_ai_job_unref);
  else
    data->flush_id = g_timeout_add_full (G_PRIORITY_DEFAULT, (guint) ((due + 999) / 1000), on_flush,
                                         prd_ai_job_ref (job), (GDestroyNotify) prd_ai_job_unref);
}

static gboolean
ask_suggestions (gpointer user_data)
{
  PrdAiJob *job = user_data;
  JobData *data = job->data;

  if (data->self == NULL)
    return G_SOURCE_REMOVE;
  prd_ai_provider_complete_async (data->self->provider, data->suggest_messages, job->cancellable,
                                  on_suggestions, prd_ai_job_ref (job));
  return G_SOURCE_REMOVE;
}

static void
on_streamed (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (PrdAiJob) job = user_data;
  JobData *data = job->data;
  PrdHubAi *self = data->self;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) messages = NULL;
  PrdAiResponse *response = NULL;
  gboolean ok;

  ok = prd_ai_provider_stream_finish (PRD_AI_PROVIDER (source), result, &response, &error);
  data->response = response;
  if (self == NULL)
    return;
  /* The rest of the answer goes out before the job ends, unless it was
   * cancelled: then nothing more is written (job_end() drops it). */
  if (!data->cancel_requested && !g_error_matches (error, PRD_ERROR, PRD_ERROR_CANCELLED))
    flush_pending (job);
  if (data->write_error != NULL)
    {
      job_end (self, job, PRD_AI_JOB_FAILED, data->write_error, 0, 0);
      return;
    }
  if (!ok)
    {
      guint status = response != NULL ? response->http_status : 0;

      if (data->cancel_requested || g_error_matches (error, PRD_ERROR, PRD_ERROR_CANCELLED))
        {
          g_autoptr (GError) cancelled =
              g_error_new_literal (PRD_ERROR, PRD_ERROR_CANCELLED, "The AI job was cancelled");
          job_end (self, job, PRD_AI_JOB_CANCELLED, cancelled, 0, 0);
          return;
        }
      job_end (self, job, PRD_AI_JOB_FAILED, error, response != NULL ? response->retry_after : 0,
               (g_error_matches (error, PRD_ERROR, PRD_ERROR_PROVIDER_ERROR) ||
                g_error_matches (error, PRD_ERROR, PRD_ERROR_RATE_LIMIT_EXCEEDED))
                   ? status
                   : 0);
      return;
    }

  messages = prd_ai_messages_new ();
  g_ptr_array_add (
      messages,
      prd_ai_message_new (
          PRD_AI_ROLE_SYSTEM,
          "You suggest follow-up work for a product requirements document. Answer with a JSON "
          "array only, at most 5 items, each {\"type\": one of \"improvement\", \"diagram\", "
          "\"missing-section\", \"clarification\", \"risk\", \"example\", \"description\": "
          "one sentence}."));
  {
    g_autofree char *asked = g_strdup_printf ("The user asked: %s", job->prompt);
    g_ptr_array_add (messages, prd_ai_message_new (PRD_AI_ROLE_USER, asked));
  }
  g_ptr_array_add (messages, prd_ai_message_new (PRD_AI_ROLE_USER, data->text->str[0] != '\0'
                                                                       ? data->text->str
                                                                       : "(empty answer)"));
  data->suggest_messages = g_steal_pointer (&messages);
  /* After the stream's request is gone, so that its connection is free. */
  g_idle_add_full (G_PRIORITY_DEFAULT, ask_suggestions, g_steal_pointer (&job),
                   (GDestroyNotify) prd_ai_job_unref);
}

static void
job_stream (PrdAiJob *job)
{
  JobData *data = job->data;
  PrdHubAi *self = data->self;
  g_autofree char *markdown = NULL;
  g_autoptr (PrdAiPrompt) prompt = NULL;
  g_autoptr (GError) error = NULL;
  PrdAiPromptInput input = { 0 };

  markdown = prd_document_get_committed_text (prd_hub_room_get_document (data->room));
  input.markdown = markdown;
  input.section = job->section;
  input.selected_text = data->selected_text;
  input.prompt = job->prompt;
  input.context_chars = prd_hub_config_get_ai (self->config)->context_chars;
  prompt = prd_ai_prompt_build (&input, &error);
  if (prompt == NULL)
    {
      job_end (self, job, PRD_AI_JOB_FAILED, error, 0, 0);
      return;
    }
  prd_ai_provider_stream_async (self->provider, prompt->messages, on_delta, job, job->cancellable,
                                on_streamed, prd_ai_job_ref (job));
}

static void
on_site_acquired (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (PrdAiJob) job = user_data;
  JobData *data = job->data;
  g_autoptr (GError) error = NULL;
  g_autoptr (PrdStoreSite) site = NULL;

  site = prd_store_acquire_site_finish (PRD_STORE (source), result, &error);
  if (data->self == NULL || prd_ai_job_is_finished (job))
    return;
  if (data->cancel_requested)
    {
      g_autoptr (GError) cancelled =
          g_error_new_literal (PRD_ERROR, PRD_ERROR_CANCELLED, "The AI job was cancelled");
      job_end (data->self, job, PRD_AI_JOB_CANCELLED, cancelled, 0, 0);
      return;
    }
  if (site == NULL || !prd_hub_room_is_open (data->room))
    {
      if (error == NULL)
        error = g_error_new_literal (PRD_ERROR, PRD_ERROR_STORAGE, "The PRD was closed");
      job_end (data->self, job, PRD_AI_JOB_FAILED, error, 0, 0);
      return;
    }
  data->site = site->site;
  prd_document_set_site_owner (prd_hub_room_get_document (data->room), (guint32) site->site,
                               AI_USER);
  job_stream (job);
}

/* Sites the AI jobs of @prd_id write with, and the members'. */
static GArray *
busy_sites (PrdHubAi *self, JobData *for_data, const char *prd_id)
{
  GArray *sites = prd_hub_room_get_busy_sites (for_data->room);
  GHashTableIter iter;
  PrdAiJob *job;

  g_hash_table_iter_init (&iter, self->jobs);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &job))
    {
      JobData *data = job->data;

      if (data != for_data && data->site >= 0 && g_str_equal (job->prd_id, prd_id))
        g_array_append_val (sites, data->site);
    }
  return sites;
}

static void
on_job_start (PrdAiQueue *queue, PrdAiJob *job, gpointer user_data)
{
  PrdHubAi *self = user_data;
  JobData *data = job->data;
  g_autoptr (JsonNode) payload = json_node_new (JSON_NODE_OBJECT);
  JsonObject *object = json_object_new ();

  save_job (self, job);
  prd_hub_room_set_status (data->room, data->socket, "ai-prompting");
  json_node_take_object (payload, object);
  json_object_set_string_member (object, "jobId", job->id);
  json_object_set_string_member (object, "prdId", job->prd_id);
  json_object_set_string_member (object, "userId", job->user_id);
  if (job->section != NULL)
    json_object_set_string_member (object, "section", job->section);
  else
    json_object_set_null_member (object, "section");
  json_object_set_boolean_member (object, "insert", data->insert);
  prd_hub_room_emit (data->room, "ai-stream-start", payload);
  notify_job (self, job);

  if (data->insert)
    {
      g_autoptr (GArray) sites = busy_sites (self, data, job->prd_id);

      prd_store_acquire_site_async (self->store, job->prd_id, AI_USER, (const int *) sites->data,
                                    sites->len, NULL, on_site_acquired, prd_ai_job_ref (job));
    }
  else
    job_stream (job);
}

/* ---- events ------------------------------------------------------------------ */

/* The room @socket joined (as an editor when @edit), held for a job; NULL
 * with @error set otherwise. Release with prd_hub_room_release(). */
static PrdHubRoom *
hold_room (PrdHubAi *self, const char *prd_id, PrdSioSocket *socket, gboolean edit, GError **error)
{
  PrdHubRoom *room = prd_hub_room_registry_get_joined (self->rooms, socket, prd_id, error);

  if (room == NULL)
    return NULL;
  /* The reason a content-update would be refused, archived first. */
  if (edit && !prd_hub_room_check_writable (room, error))
    return NULL;
  if (edit &&
      !prd_room_member_can_edit (prd_hub_room_get_members (room), prd_sio_socket_get_id (socket)))
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_FORBIDDEN,
                           prd_hub_socket_get_identity (socket)->role == PRD_ROLE_VIEWER
                               ? "Only editors may have the AI write into the PRD (insert: "
                                 "false previews without writing)"
                               : "Joined in view mode; join in edit mode to have the AI write "
                                 "into the PRD (insert: false previews without writing)");
      return NULL;
    }
  if (!prd_hub_room_hold (room, error))
    return NULL;
  return room;
}

static void
on_ai_prompt (PrdSioSocket *socket,
              const char *event,
              JsonArray *args,
              GPtrArray *attachments,
              gint64 ack_id,
              gpointer user_data)
{
  PrdHubAi *self = user_data;
  const PrdIdentity *identity = prd_hub_socket_get_identity (socket);
  g_autoptr (GError) error = NULL;
  g_autoptr (PrdAiJob) job = NULL;
  g_autoptr (JsonNode) created = NULL;
  g_autoptr (GArray) version = NULL;
  PrdCrdtAnchor anchor;
  const char *prd_id, *prompt, *section, *selected = NULL;
  JsonObject *payload, *context = NULL, *object, *ack;
  JsonNode *node;
  gboolean insert = TRUE, has_cursor = FALSE;
  gint64 cursor = 0;
  guint retry_after = 0;
  guint32 length;
  PrdHubRoom *room;
  PrdCrdtDoc *crdt;
  JobData *data;
  int position;

  if (self->provider == NULL)
    {
      reply_ai_error_literal (socket, ack_id, PRD_ERROR_AI_NOT_CONFIGURED,
                              "No AI provider is configured on this hub ([ai] base-url and model)");
      return;
    }
  if (self->stopping)
    {
      reply_ai_error_literal (socket, ack_id, PRD_ERROR_INTERRUPTED,
                              "The hub is stopping; ask again once it is back");
      return;
    }
  payload = prd_hub_payload_peek_object (args);
  if (payload == NULL)
    {
      reply_ai_error_literal (socket, ack_id, PRD_ERROR_INVALID_PAYLOAD,
                              "The payload must be an object");
      return;
    }
  if (!prd_hub_json_get_optional_string (payload, "prdId", &prd_id, &error) ||
      !prd_hub_json_get_optional_string (payload, "prompt", &prompt, &error) ||
      !prd_hub_json_get_optional_string (payload, "section", &section, &error))
    {
      reply_ai_error (socket, ack_id, NULL, error, 0);
      return;
    }
  if (prd_id == NULL || !prd_store_validate_prd_id (prd_id, &error))
    {
      if (error == NULL)
        error =
            g_error_new_literal (PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD, "prdId must be a string");
      reply_ai_error (socket, ack_id, NULL, error, 0);
      return;
    }
  if (prompt == NULL || *prompt == '\0' || g_utf8_strlen (prompt, -1) > PRD_AI_MAX_PROMPT_CHARS)
    {
      g_autofree char *message = g_strdup_printf (
          "prompt must be a non-empty string of at most %d characters", PRD_AI_MAX_PROMPT_CHARS);
      reply_ai_error_literal (socket, ack_id, PRD_ERROR_INVALID_PAYLOAD, message);
      return;
    }
  /* Everything the job would refuse when it starts is refused here, before
   * it costs quota or reaches the room. */
  if (section != NULL && !prd_ai_check_slug (section, &error))
    {
      reply_ai_error (socket, ack_id, NULL, error, 0);
      return;
    }
  node = json_object_get_member (payload, "insert");
  if (node != NULL && !JSON_NODE_HOLDS_NULL (node))
    {
      if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_BOOLEAN)
        {
          reply_ai_error_literal (socket, ack_id, PRD_ERROR_INVALID_PAYLOAD,
                                  "insert must be true or false");
          return;
        }
      insert = json_node_get_boolean (node);
    }
  node = json_object_get_member (payload, "context");
  if (node != NULL && !JSON_NODE_HOLDS_NULL (node))
    {
      if (!JSON_NODE_HOLDS_OBJECT (node))
        {
          reply_ai_error_literal (socket, ack_id, PRD_ERROR_INVALID_PAYLOAD,
                                  "context must be an object");
          return;
        }
      context = json_node_get_object (node);
      if (!prd_hub_json_get_optional_string (context, "selectedText", &selected, &error))
        {
          reply_ai_error (socket, ack_id, NULL, error, 0);
          return;
        }
      if (selected != NULL && g_utf8_strlen (selected, -1) > PRD_AI_MAX_SELECTION_CHARS)
        {
          reply_ai_error_literal (socket, ack_id, PRD_ERROR_PAYLOAD_TOO_LARGE,
                                  "context.selectedText is too long");
          return;
        }
      node = json_object_get_member (context, "cursorPosition");
      if (node != NULL && !JSON_NODE_HOLDS_NULL (node))
        {
          if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64 ||
              json_node_get_int (node) < 0)
            {
              reply_ai_error_literal (socket, ack_id, PRD_ERROR_INVALID_PAYLOAD,
                                      "context.cursorPosition must be a non-negative integer");
              return;
            }
          cursor = json_node_get_int (node);
          has_cursor = TRUE;
        }
      if (!prd_hub_json_get_optional_vector (context, "stateVector", "context.stateVector",
                                             &version, &error))
        {
          reply_ai_error (socket, ack_id, NULL, error, 0);
          return;
        }
    }

  room = hold_room (self, prd_id, socket, insert, &error);
  if (room == NULL)
    {
      reply_ai_error (socket, ack_id, NULL, error, 0);
      return;
    }
  crdt = prd_document_get_crdt (prd_hub_room_get_document (room));
  length = prd_crdt_doc_get_length (crdt);
  /* Tied to the character before the cursor: text typed at the cursor
   * later goes after the anchor, so the answer stays where it was asked.
   * A cursor read at an older version (context.stateVector: the client had
   * not seen others' edits yet) names the character it was after there. */
  if (has_cursor && version != NULL)
    {
      g_autoptr (GError) version_error = NULL;

      gboolean anchored = prd_crdt_doc_anchor_at_version (
          crdt, (const guint32 *) version->data, version->len, (guint32) MIN (cursor, G_MAXUINT32),
          PRD_CRDT_ASSOC_BEFORE, &anchor, &version_error);

      prd_hub_charge_history (socket, event, crdt, (const guint32 *) version->data, version->len, 1,
                              prd_hub_config_get_collab (self->config)->history_ops);
      if (!anchored)
        {
          g_autofree char *message = g_strdup_printf (
              "context.cursorPosition at context.stateVector: %s", version_error->message);

          prd_hub_room_release (room);
          reply_ai_error_literal (socket, ack_id, PRD_ERROR_INVALID_PAYLOAD, message);
          return;
        }
    }
  else if (has_cursor && cursor > length)
    {
      g_autofree char *message = g_strdup_printf ("context.cursorPosition %" G_GINT64_FORMAT
                                                  " is past the end of the PRD (%u)",
                                                  cursor, length);
      prd_hub_room_release (room);
      reply_ai_error_literal (socket, ack_id, PRD_ERROR_INVALID_PAYLOAD, message);
      return;
    }
  else
    {
      g_autoptr (GError) anchor_error = NULL;

      /* A cursor between the halves of a surrogate pair names no place. */
      if (!prd_crdt_doc_anchor_at (crdt, has_cursor ? (guint32) cursor : length,
                                   PRD_CRDT_ASSOC_BEFORE, &anchor, &anchor_error))
        {
          g_autofree char *message =
              g_strdup_printf ("context.cursorPosition: %s", anchor_error->message);

          prd_hub_room_release (room);
          reply_ai_error_literal (socket, ack_id, PRD_ERROR_INVALID_PAYLOAD, message);
          return;
        }
    }

  job = prd_ai_job_new (prd_id, identity->org, identity->user_id, prompt, section);
  data = g_new0 (JobData, 1);
  data->self = self;
  data->socket = g_object_ref (socket);
  data->iat = identity->iat;
  data->room = room;
  data->selected_text = g_strdup (selected);
  data->insert = insert;
  data->site = -1;
  data->text = g_string_new (NULL);
  data->anchor = anchor;
  job->data = data;
  job->data_free = (GDestroyNotify) job_data_free;

  if (!prd_ai_queue_submit (self->queue, job, g_get_monotonic_time (), &retry_after, &error))
    {
      g_clear_pointer (&data->room, prd_hub_room_release);
      reply_ai_error (socket, ack_id, NULL, error, retry_after);
      return;
    }
  g_hash_table_insert (self->jobs, job->id, prd_ai_job_ref (job));
  save_job (self, job);
  notify_job (self, job);

  position = prd_ai_queue_get_position (self->queue, job);
  created = json_node_new (JSON_NODE_OBJECT);
  object = json_object_new ();
  json_node_take_object (created, object);
  json_object_set_string_member (object, "jobId", job->id);
  json_object_set_string_member (object, "prdId", prd_id);
  json_object_set_string_member (object, "userId", job->user_id);
  json_object_set_string_member (object, "status", "queued");
  json_object_set_int_member (object, "estimatedTime",
                              prd_ai_queue_estimate (self->queue, position));
  json_object_set_int_member (object, "position", position);
  prd_sio_socket_emit_one (socket, "ai-job-created", created);
  ack = json_object_new ();
  json_object_set_string_member (ack, "jobId", job->id);
  prd_hub_reply_ok (socket, ack_id, ack);

  prd_ai_queue_pump (self->queue, g_get_monotonic_time ());
}

/* A queued job ends at once, a running one when its stream stops. */
static void
cancel_job (PrdHubAi *self, PrdAiJob *job)
{
  JobData *data = job->data;

  if (job->state == PRD_AI_JOB_QUEUED)
    {
      g_autoptr (GError) cancelled =
          g_error_new_literal (PRD_ERROR, PRD_ERROR_CANCELLED, "The AI job was cancelled");

      prd_ai_queue_cancel_queued (self->queue, job);
      job->state = PRD_AI_JOB_QUEUED;
      job_end (self, job, PRD_AI_JOB_CANCELLED, cancelled, 0, 0);
      return;
    }
  data->cancel_requested = TRUE;
  /* Nothing more is written once the cancel is acknowledged. */
  drop_pending (job);
  g_cancellable_cancel (job->cancellable);
}

static void
on_ai_cancel (PrdSioSocket *socket,
              const char *event,
              JsonArray *args,
              GPtrArray *attachments,
              gint64 ack_id,
              gpointer user_data)
{
  PrdHubAi *self = user_data;
  const PrdIdentity *identity = prd_hub_socket_get_identity (socket);
  JsonObject *payload = prd_hub_payload_peek_object (args);
  g_autoptr (GError) error = NULL;
  const char *job_id = NULL;
  PrdAiJob *job;

  if (payload == NULL || !prd_hub_json_get_optional_string (payload, "jobId", &job_id, &error) ||
      job_id == NULL)
    {
      reply_ai_error_literal (socket, ack_id, PRD_ERROR_INVALID_PAYLOAD, "jobId must be a string");
      return;
    }
  job = g_hash_table_lookup (self->jobs, job_id);
  /* A job of another organization is not there for the caller: answering
   * anything else would confirm that it exists. */
  if (job == NULL || !g_str_equal (job->org, identity->org))
    {
      reply_ai_error_literal (socket, ack_id, PRD_ERROR_NOT_FOUND,
                              "No such AI job is queued or running");
      return;
    }
  if (!prd_ai_job_is_owned_by (job, identity->org, identity->user_id) &&
      identity->role != PRD_ROLE_ADMIN)
    {
      reply_ai_error_literal (socket, ack_id, PRD_ERROR_FORBIDDEN,
                              "Only the requester or an admin may cancel an AI job");
      return;
    }
  prd_hub_reply_ok (socket, ack_id, NULL);
  cancel_job (self, job);
}

/* One ai-review on its way to the provider: it always ends with one event
 * to the requester, ai-review-complete or ai-error, both naming it. */
typedef struct
{
  PrdHubAi *self;       /* (owned) */
  PrdSioSocket *socket; /* (owned) */
  char *prd_id;
  char *review_id;
  char *org;                 /* the requester's */
  char *user_id;             /* the requester's */
  gint64 iat;                /* the `iat` of the requester's token when they asked */
  char *user_key;            /* the requester's (prd_ai_user_key()) */
  GHashTable *headings;      /* (owned) the slugs of the PRD's headings when asked */
  GCancellable *cancellable; /* (owned) the provider's request */
  gboolean ended;            /* its one event went out before the provider answered */
  gboolean released;         /* its slot (reviews, reviewers) is free again */
} Review;

/* Reviews wait for no queue: past [ai] concurrency of them at the provider,
 * or a second one of the same user, one more is refused
 * (RATE_LIMIT_EXCEEDED) with this retryAfter. One per user keeps one user
 * from holding every slot. */
#define REVIEW_BUSY_RETRY_AFTER 5

/* Frees @review's place among the reviews at the provider, once. */
static void
review_release (Review *review)
{
  if (review->released)
    return;
  review->released = TRUE;
  review->self->reviews--;
  g_hash_table_remove (review->self->reviewers, review->user_key);
}

static void
review_free (Review *review)
{
  review_release (review);
  g_hash_table_remove (review->self->under_review, review->review_id);
  g_object_unref (review->cancellable);
  g_free (review->user_key);
  g_free (review->org);
  g_free (review->user_id);
  g_object_unref (review->self);
  g_object_unref (review->socket);
  g_free (review->prd_id);
  g_free (review->review_id);
  g_hash_table_unref (review->headings);
  g_free (review);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Review, review_free)

/* `review_` and 24 random hex digits, as job ids. */
static char *
new_review_id (void)
{
  GString *id = g_string_new ("review_");

  for (guint i = 0; i < 12; i++)
    g_string_append_printf (id, "%02x", (guint) g_random_int_range (0, 256));
  return g_string_free (id, FALSE);
}

static void
on_reviewed (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (Review) review = user_data;
  g_autoptr (PrdAiResponse) response = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonArray) suggestions = NULL;
  g_autoptr (JsonNode) complete = json_node_new (JSON_NODE_OBJECT);
  JsonObject *object;

  if (!prd_ai_provider_complete_finish (PRD_AI_PROVIDER (source), result, &response, &error) &&
      !review->ended)
    {
      g_autoptr (JsonNode) payload =
          error_payload (NULL, error, response != NULL ? response->retry_after : 0,
                         response != NULL ? response->http_status : 0);

      json_object_set_string_member (json_node_get_object (payload), "prdId", review->prd_id);
      json_object_set_string_member (json_node_get_object (payload), "reviewId", review->review_id);
      if (prd_sio_socket_is_connected (review->socket))
        prd_sio_socket_emit_one (review->socket, "ai-error", payload);
      return;
    }
  if (review->ended)
    return;
  suggestions = validated_suggestions (response->text, TRUE, review->headings);
  for (guint i = 0; i < json_array_get_length (suggestions); i++)
    {
      g_autoptr (JsonNode) payload = json_node_new (JSON_NODE_OBJECT);
      JsonObject *suggestion = json_object_new ();

      json_node_take_object (payload, suggestion);
      json_object_set_string_member (suggestion, "prdId", review->prd_id);
      json_object_set_string_member (suggestion, "reviewId", review->review_id);
      json_object_set_member (suggestion, "suggestion",
                              json_node_copy (json_array_get_element (suggestions, i)));
      if (prd_sio_socket_is_connected (review->socket))
        prd_sio_socket_emit_one (review->socket, "ai-suggestion", payload);
    }
  object = json_object_new ();
  json_node_take_object (complete, object);
  json_object_set_string_member (object, "prdId", review->prd_id);
  json_object_set_string_member (object, "reviewId", review->review_id);
  json_object_set_int_member (object, "count", json_array_get_length (suggestions));
  if (prd_sio_socket_is_connected (review->socket))
    prd_sio_socket_emit_one (review->socket, "ai-review-complete", complete);
}

static void
on_ai_review (PrdSioSocket *socket,
              const char *event,
              JsonArray *args,
              GPtrArray *attachments,
              gint64 ack_id,
              gpointer user_data)
{
  PrdHubAi *self = user_data;
  const PrdIdentity *identity = prd_hub_socket_get_identity (socket);
  JsonObject *payload = prd_hub_payload_peek_object (args);
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) messages = NULL;
  g_autofree char *markdown = NULL;
  g_autofree char *context = NULL;
  g_autoptr (GHashTable) headings = NULL;
  g_autoptr (GPtrArray) sections = NULL;
  const char *prd_id = NULL;
  PrdHubRoom *room;
  guint retry_after = 0;
  g_autofree char *user_key = NULL;
  Review *review;
  JsonObject *ack;

  if (self->provider == NULL)
    {
      reply_ai_error_literal (socket, ack_id, PRD_ERROR_AI_NOT_CONFIGURED,
                              "No AI provider is configured on this hub ([ai] base-url and model)");
      return;
    }
  if (payload == NULL || !prd_hub_json_get_optional_string (payload, "prdId", &prd_id, &error) ||
      prd_id == NULL || !prd_store_validate_prd_id (prd_id, NULL))
    {
      reply_ai_error_literal (socket, ack_id, PRD_ERROR_INVALID_PAYLOAD, "prdId must be a PRD id");
      return;
    }
  room = hold_room (self, prd_id, socket, FALSE, &error);
  if (room == NULL)
    {
      reply_ai_error (socket, ack_id, NULL, error, 0);
      return;
    }
  markdown = prd_document_get_committed_text (prd_hub_room_get_document (room));
  prd_hub_room_release (room);
  user_key = prd_ai_user_key (identity->org, identity->user_id);
  if (g_hash_table_contains (self->reviewers, user_key))
    {
      g_autoptr (GError) busy = g_error_new (
          PRD_ERROR, PRD_ERROR_RATE_LIMIT_EXCEEDED,
          "Your previous review is under way; one review per user at a time; retry in %d s",
          REVIEW_BUSY_RETRY_AFTER);

      reply_ai_error (socket, ack_id, NULL, busy, REVIEW_BUSY_RETRY_AFTER);
      return;
    }
  if (self->reviews >= prd_hub_config_get_ai (self->config)->concurrency)
    {
      g_autoptr (GError) busy =
          g_error_new (PRD_ERROR, PRD_ERROR_RATE_LIMIT_EXCEEDED,
                       "%u reviews are under way, as many as [ai] concurrency allows; retry in "
                       "%d s",
                       self->reviews, REVIEW_BUSY_RETRY_AFTER);

      reply_ai_error (socket, ack_id, NULL, busy, REVIEW_BUSY_RETRY_AFTER);
      return;
    }
  /* A review counts against the hourly quota like a prompt. */
  if (!prd_ai_queue_charge (self->queue, identity->org, identity->user_id, g_get_monotonic_time (),
                            &retry_after, &error))
    {
      reply_ai_error (socket, ack_id, NULL, error, retry_after);
      return;
    }
  /* A suggestion's section is one of these, or null. */
  headings = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  sections = prd_ai_markdown_get_sections (markdown, strlen (markdown));
  for (guint i = 0; i < sections->len; i++)
    g_hash_table_add (headings,
                      g_strdup (((PrdAiSection *) g_ptr_array_index (sections, i))->slug));
  /* context-chars counts characters, as for a prompt's context: the cut
   * falls between two of them. */
  if (g_utf8_strlen (markdown, -1) > (glong) prd_hub_config_get_ai (self->config)->context_chars)
    context = g_utf8_substring (markdown, 0, prd_hub_config_get_ai (self->config)->context_chars);
  else
    context = g_steal_pointer (&markdown);
  messages = prd_ai_messages_new ();
  g_ptr_array_add (
      messages,
      prd_ai_message_new (
          PRD_AI_ROLE_SYSTEM,
          "You review product requirements documents. Answer with a JSON array only, at most 10 "
          "items, each {\"type\": one of \"improvement\", \"diagram\", \"missing-section\", "
          "\"clarification\", \"risk\", \"example\", \"section\": the heading it concerns, "
          "\"title\": a few words, \"description\": one or two sentences, \"confidence\": 0 to "
          "1}."));
  g_ptr_array_add (messages, prd_ai_message_new (PRD_AI_ROLE_USER, context));
  review = g_new0 (Review, 1);
  review->headings = g_steal_pointer (&headings);
  review->self = g_object_ref (self);
  self->reviews++;
  review->user_key = g_strdup (user_key);
  review->org = g_strdup (identity->org);
  review->user_id = g_strdup (identity->user_id);
  review->iat = identity->iat;
  g_hash_table_add (self->reviewers, g_steal_pointer (&user_key));
  review->socket = g_object_ref (socket);
  review->prd_id = g_strdup (prd_id);
  review->review_id = new_review_id ();
  review->cancellable = g_cancellable_new ();
  g_hash_table_insert (self->under_review, review->review_id, review);
  ack = json_object_new ();
  json_object_set_string_member (ack, "reviewId", review->review_id);
  prd_hub_reply_ok (socket, ack_id, ack);
  prd_ai_provider_complete_async (self->provider, messages, review->cancellable, on_reviewed,
                                  review);
}

/* ---- how a job ended ----------------------------------------------------------- */

/* `job_` and 24 lowercase hex digits (prd_ai_job_new()). */
static gboolean
is_job_id (const char *job_id)
{
  if (strlen (job_id) != 28 || !g_str_has_prefix (job_id, "job_"))
    return FALSE;
  for (const char *p = job_id + 4; *p != '\0'; p++)
    if (!g_ascii_isdigit (*p) && !(*p >= 'a' && *p <= 'f'))
      return FALSE;
  return TRUE;
}

static void
reply_job_status (PrdSioSocket *socket,
                  gint64 ack_id,
                  const char *job_id,
                  const char *prd_id,
                  const char *state,
                  gint64 tokens,
                  gint64 duration,
                  const char *error_code,
                  const char *error_message)
{
  JsonObject *ack = json_object_new ();
  JsonObject *job = json_object_new ();

  json_object_set_string_member (job, "jobId", job_id);
  json_object_set_string_member (job, "prdId", prd_id);
  json_object_set_string_member (job, "state", state);
  json_object_set_int_member (job, "tokensUsed", tokens);
  json_object_set_int_member (job, "duration", duration);
  if (error_code != NULL)
    {
      JsonObject *error = json_object_new ();

      json_object_set_string_member (error, "code", error_code);
      json_object_set_string_member (error, "message", error_message != NULL ? error_message : "");
      json_object_set_object_member (job, "error", error);
    }
  json_object_set_object_member (ack, "job", job);
  prd_hub_reply_ok (socket, ack_id, ack);
}

typedef struct
{
  PrdHubAi *self;       /* (owned) */
  PrdSioSocket *socket; /* (owned) */
  gint64 ack_id;
  char *prd_id;
  char *job_id;
} StatusRequest;

static void
status_request_free (StatusRequest *request)
{
  g_object_unref (request->self);
  g_object_unref (request->socket);
  g_free (request->prd_id);
  g_free (request->job_id);
  g_free (request);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (StatusRequest, status_request_free)

static void
on_job_record (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (StatusRequest) request = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (PrdAiJobRecord) record = NULL;
  const PrdAiJobRecord *kept;

  record = prd_ai_job_store_get_finish (PRD_AI_JOB_STORE (source), result, &error);
  /* A save of the job's end, queued before this read, failed meanwhile:
   * the row is stale. */
  kept = request->self->unsaved != NULL
             ? prd_hub_ai_unsaved_lookup (request->self->unsaved, request->job_id)
             : NULL;
  if (kept != NULL && g_str_equal (kept->prd_id, request->prd_id))
    {
      reply_job_status (request->socket, request->ack_id, kept->id, kept->prd_id, kept->state,
                        kept->tokens, kept->duration, kept->error_code, kept->error_message);
      return;
    }
  if (error != NULL)
    {
      prd_hub_reply_error (request->socket, request->ack_id, "ai-job-status", request->prd_id,
                           error);
      return;
    }
  /* A job of another PRD, hence maybe of another organization, is not
   * there for the caller. */
  if (record == NULL || g_strcmp0 (record->prd_id, request->prd_id) != 0)
    {
      prd_hub_reply_error_literal (request->socket, request->ack_id, "ai-job-status",
                                   request->prd_id, PRD_ERROR_NOT_FOUND,
                                   "No such AI job on record for this PRD");
      return;
    }
  reply_job_status (request->socket, request->ack_id, record->id, record->prd_id, record->state,
                    record->tokens, record->duration, record->error_code, record->error_message);
}

/* ai-job-status { prdId, jobId }: how a job of a joined PRD stands, from
 * the jobs under way, else from the jobs on record. A client that lost
 * its connection (or a hub that was killed) learns so how its job ended. */
static void
on_ai_job_status (PrdSioSocket *socket,
                  const char *event,
                  JsonArray *args,
                  GPtrArray *attachments,
                  gint64 ack_id,
                  gpointer user_data)
{
  PrdHubAi *self = user_data;
  JsonObject *payload = prd_hub_payload_peek_object (args);
  g_autoptr (GError) error = NULL;
  const char *prd_id = NULL, *job_id = NULL;
  StatusRequest *request;
  const PrdAiJobRecord *record;
  PrdAiJob *job;

  if (payload == NULL || !prd_hub_json_get_optional_string (payload, "prdId", &prd_id, &error) ||
      prd_id == NULL || !prd_store_validate_prd_id (prd_id, NULL))
    {
      prd_hub_reply_error_literal (socket, ack_id, event, NULL, PRD_ERROR_INVALID_PAYLOAD,
                                   "prdId must be a PRD id");
      return;
    }
  if (!prd_hub_json_get_optional_string (payload, "jobId", &job_id, &error) || job_id == NULL ||
      !is_job_id (job_id))
    {
      prd_hub_reply_error_literal (socket, ack_id, event, prd_id, PRD_ERROR_INVALID_PAYLOAD,
                                   "jobId must be a job id (job_ and 24 hex digits)");
      return;
    }
  if (prd_hub_room_registry_get_joined (self->rooms, socket, prd_id, &error) == NULL)
    {
      prd_hub_reply_error (socket, ack_id, event, prd_id, error);
      return;
    }
  job = g_hash_table_lookup (self->jobs, job_id);
  if (job != NULL && g_str_equal (job->prd_id, prd_id))
    {
      reply_job_status (socket, ack_id, job->id, job->prd_id,
                        prd_ai_job_state_to_string (job->state), job->tokens, 0, NULL, NULL);
      return;
    }
  /* A job whose end the store refused: how it really ended, not the
   * stale row. */
  record = prd_hub_ai_unsaved_lookup (self->unsaved, job_id);
  if (record != NULL && g_str_equal (record->prd_id, prd_id))
    {
      reply_job_status (socket, ack_id, record->id, record->prd_id, record->state, record->tokens,
                        record->duration, record->error_code, record->error_message);
      return;
    }
  request = g_new0 (StatusRequest, 1);
  request->self = g_object_ref (self);
  request->socket = g_object_ref (socket);
  request->ack_id = ack_id;
  request->prd_id = g_strdup (prd_id);
  request->job_id = g_strdup (job_id);
  prd_ai_job_store_get_async (self->job_store, job_id, NULL, on_job_record, request);
}

/* ---- object ------------------------------------------------------------------- */

static const PrdHubEventEntry events[] = {
  { "ai-prompt", on_ai_prompt },
  { "ai-cancel", on_ai_cancel },
  { "ai-review", on_ai_review },
  { "ai-job-status", on_ai_job_status },
};

static void
prd_hub_ai_dispose (GObject *object)
{
  PrdHubAi *self = PRD_HUB_AI (object);

  if (self->under_review != NULL)
    {
      /* A review's callback may come at once and forget it: copy first. */
      g_autoptr (GPtrArray) reviews = g_ptr_array_new ();
      GHashTableIter iter;
      gpointer review;

      g_hash_table_iter_init (&iter, self->under_review);
      while (g_hash_table_iter_next (&iter, NULL, &review))
        g_ptr_array_add (reviews, review);
      for (guint i = 0; i < reviews->len; i++)
        g_cancellable_cancel (((Review *) g_ptr_array_index (reviews, i))->cancellable);
    }
  if (self->jobs != NULL)
    {
      GHashTableIter iter;
      PrdAiJob *job;

      g_hash_table_iter_init (&iter, self->jobs);
      while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &job))
        {
          JobData *data = job->data;

          /* Their callbacks still come; they find no hub and stop. The
           * rows stay queued or streaming until the next start marks
           * them INTERRUPTED (a hub that stops first ends them in
           * prd_hub_ai_shutdown()). */
          data->self = NULL;
          drop_pending (job);
          g_cancellable_cancel (job->cancellable);
          g_clear_pointer (&data->room, prd_hub_room_release);
        }
    }
  if (self->nsp != NULL)
    {
      prd_hub_remove_events (self->nsp, events, G_N_ELEMENTS (events));
      g_object_remove_weak_pointer (G_OBJECT (self->nsp), (gpointer *) &self->nsp);
      self->nsp = NULL;
    }
  if (self->queue != NULL)
    g_signal_handlers_disconnect_by_data (self->queue, self);
  if (self->rooms != NULL)
    g_signal_handlers_disconnect_by_data (self->rooms, self);
  /* Saves under way find it gone and stop. */
  g_clear_handle_id (&self->unsaved_retry_id, g_source_remove);
  g_clear_pointer (&self->unsaved, prd_hub_ai_unsaved_free);
  g_clear_object (&self->queue);
  g_clear_object (&self->provider);
  g_clear_object (&self->rooms);
  g_clear_object (&self->store);
  g_clear_object (&self->job_store);

  G_OBJECT_CLASS (prd_hub_ai_parent_class)->dispose (object);
}

static void
prd_hub_ai_finalize (GObject *object)
{
  PrdHubAi *self = PRD_HUB_AI (object);

  g_clear_pointer (&self->jobs, g_hash_table_unref);
  g_clear_pointer (&self->reviewers, g_hash_table_unref);
  g_clear_pointer (&self->under_review, g_hash_table_unref);
  g_clear_pointer (&self->config, prd_hub_config_unref);

  G_OBJECT_CLASS (prd_hub_ai_parent_class)->finalize (object);
}

static void
prd_hub_ai_class_init (PrdHubAiClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = prd_hub_ai_dispose;
  object_class->finalize = prd_hub_ai_finalize;

  /**
   * PrdHubAi::job-changed:
   * @job: (type gpointer): the #PrdAiJob
   *
   * A job was queued, started, streamed a piece or ended (then it is
   * emitted before the job is forgotten).
   */
  signals[SIGNAL_JOB_CHANGED] =
      g_signal_new ("job-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                    NULL, G_TYPE_NONE, 1, G_TYPE_POINTER);
}

static void
prd_hub_ai_init (PrdHubAi *self)
{
  self->jobs =
      g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) prd_ai_job_unref);
  self->reviewers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->under_review = g_hash_table_new (g_str_hash, g_str_equal);
  self->unsaved = prd_hub_ai_unsaved_new (PRD_HUB_AI_MAX_UNSAVED_JOBS);
}

/* The AI starts once the jobs a previous run left unfinished are marked
 * failed: a client must never see a stale `streaming`. */
static void
on_interrupted (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  PrdHubAi *self = g_task_get_task_data (task);
  GError *error = NULL;
  gint64 n = prd_ai_job_store_interrupt_finish (PRD_AI_JOB_STORE (source), result, &error);

  if (n < 0)
    {
      g_prefix_error (&error, "Cannot mark interrupted AI jobs: ");
      g_task_return_error (task, error);
      return;
    }
  if (n > 0)
    g_message ("%" G_GINT64_FORMAT " AI job(s) were interrupted by the last shutdown", n);
  if (self->nsp != NULL)
    prd_hub_add_events (self->nsp, events, G_N_ELEMENTS (events), self);
  g_task_return_pointer (task, g_object_ref (self), g_object_unref);
}

/**
 * prd_hub_ai_new_async:
 * @nsp: the /prds namespace
 * @prds: the /prds handlers (the AI writes into their rooms)
 * @store: where the AI site writes
 * @jobs: where the jobs are recorded
 * @config: the hub's configuration
 * @provider: (nullable): the model; without one every ai-prompt is answered
 *   with AI_NOT_CONFIGURED
 * @cancellable: (nullable): stops the start
 * @callback: called once the AI can take prompts
 * @user_data: data for @callback
 *
 * Marks the jobs a previous run left unfinished as failed (INTERRUPTED),
 * then installs the AI events on @nsp.
 */
void
prd_hub_ai_new_async (PrdSioNamespace *nsp,
                      PrdHubRoomRegistry *rooms,
                      PrdStore *store,
                      PrdAiJobStore *jobs,
                      PrdHubConfig *config,
                      PrdAiProvider *provider,
                      GCancellable *cancellable,
                      GAsyncReadyCallback callback,
                      gpointer user_data)
{
  PrdHubAi *self;
  g_autoptr (GTask) task = NULL;

  g_return_if_fail (PRD_IS_SIO_NAMESPACE (nsp));
  g_return_if_fail (PRD_IS_HUB_ROOM_REGISTRY (rooms));
  g_return_if_fail (PRD_IS_STORE (store));
  g_return_if_fail (PRD_IS_AI_JOB_STORE (jobs));
  g_return_if_fail (config != NULL);

  self = g_object_new (PRD_TYPE_HUB_AI, NULL);
  self->nsp = nsp;
  g_object_add_weak_pointer (G_OBJECT (nsp), (gpointer *) &self->nsp);
  self->rooms = g_object_ref (rooms);
  self->store = g_object_ref (store);
  self->job_store = g_object_ref (jobs);
  self->config = prd_hub_config_ref (config);
  self->provider = provider != NULL ? g_object_ref (provider) : NULL;
  self->queue = prd_ai_queue_new (prd_hub_config_get_ai (config)->concurrency,
                                  prd_hub_config_get_ai (config)->hourly_quota,
                                  prd_hub_config_get_ai (config)->max_queued_per_user);
  g_signal_connect (self->queue, "start", G_CALLBACK (on_job_start), self);
  g_signal_connect (rooms, "room-closed", G_CALLBACK (on_room_closed), self);
  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, prd_hub_ai_new_async);
  g_task_set_task_data (task, self, g_object_unref);
  prd_ai_job_store_interrupt_async (jobs, cancellable, on_interrupted, g_steal_pointer (&task));
}

/**
 * prd_hub_ai_new_finish:
 *
 * Returns: (transfer full) (nullable): the AI feature, or %NULL with @error
 *   set when the job records cannot be written
 */
PrdHubAi *
prd_hub_ai_new_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

void
prd_hub_ai_set_provider (PrdHubAi *self, PrdAiProvider *provider)
{
  g_return_if_fail (PRD_IS_HUB_AI (self));

  g_set_object (&self->provider, provider);
}

/**
 * prd_hub_ai_build_provider:
 * @api_key: (nullable)
 *
 * Returns: (transfer full) (nullable): the provider of @config's [ai] group,
 *   %NULL without error when no base URL is configured
 */
PrdAiProvider *
prd_hub_ai_build_provider (PrdHubConfig *config, const char *api_key, GError **error)
{
  const PrdHubAiConfig *ai = prd_hub_config_get_ai (config);
  PrdOpenAiSettings settings = { 0 };

  if (ai->base_url == NULL || ai->model == NULL)
    return NULL;
  settings.base_url = ai->base_url;
  settings.model = ai->model;
  settings.api_key = api_key;
  settings.timeout_ms = ai->timeout * 1000;
  settings.max_tokens = ai->max_tokens;
  return prd_openai_provider_new (&settings, error);
}

/**
 * prd_hub_ai_list_jobs:
 *
 * Returns: (transfer container) (element-type PrdAiJob): the jobs queued or
 *   running now, each with a reference
 */
GPtrArray *
prd_hub_ai_list_jobs (PrdHubAi *self)
{
  GPtrArray *jobs = g_ptr_array_new_with_free_func ((GDestroyNotify) prd_ai_job_unref);
  GHashTableIter iter;
  PrdAiJob *job;

  g_return_val_if_fail (PRD_IS_HUB_AI (self), jobs);

  g_hash_table_iter_init (&iter, self->jobs);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &job))
    g_ptr_array_add (jobs, prd_ai_job_ref (job));
  return jobs;
}

/**
 * prd_hub_ai_cancel_job:
 * @job_id: a job's id
 *
 * Cancels a queued or running job on the operator's behalf (whatever its
 * organization): it ends with ai-error CANCELLED, as for ai-cancel.
 *
 * Returns: %FALSE with %PRD_ERROR_NOT_FOUND when no such job is queued or
 *   running
 */
gboolean
prd_hub_ai_cancel_job (PrdHubAi *self, const char *job_id, GError **error)
{
  PrdAiJob *job;

  g_return_val_if_fail (PRD_IS_HUB_AI (self), FALSE);
  g_return_val_if_fail (job_id != NULL, FALSE);

  job = g_hash_table_lookup (self->jobs, job_id);
  if (job == NULL)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_NOT_FOUND, "No AI job %s is queued or running",
                   job_id);
      return FALSE;
    }
  cancel_job (self, job);
  return TRUE;
}

/* Ends @job now, failed with @error (the hub stops, its PRD was deleted):
 * its requester (queued) or its room (running) gets ai-error, the record
 * says so, its request at the provider is cancelled and its slot starts
 * the next job. */
static void
abort_job (PrdHubAi *self, PrdAiJob *job, const GError *error)
{
  JobData *data = job->data;

  if (job->state == PRD_AI_JOB_QUEUED)
    {
      prd_ai_queue_cancel_queued (self->queue, job);
      job->state = PRD_AI_JOB_QUEUED;
    }
  job_end (self, job, PRD_AI_JOB_FAILED, error, 0, 0);
  /* The stream's callbacks still come; they find no hub and stop. */
  data->self = NULL;
  g_cancellable_cancel (job->cancellable);
}

/* Ends @review now with ai-error @error to its requester (with its
 * `reviewId`): its place among the reviews is free again and its request at
 * the provider is cancelled. */
static void
abort_review (Review *review, const GError *error)
{
  g_autoptr (JsonNode) payload = error_payload (NULL, error, 0, 0);

  json_object_set_string_member (json_node_get_object (payload), "prdId", review->prd_id);
  json_object_set_string_member (json_node_get_object (payload), "reviewId", review->review_id);
  if (prd_sio_socket_is_connected (review->socket))
    prd_sio_socket_emit_one (review->socket, "ai-error", payload);
  review->ended = TRUE;
  review_release (review);
  /* Its callback comes, finds it ended and frees it. */
  g_cancellable_cancel (review->cancellable);
}

/**
 * prd_hub_ai_shutdown:
 *
 * The hub is stopping: every queued or running job ends now with
 * `ai-error` `INTERRUPTED` (to the requester of a queued job, to the room
 * of a running one) and is recorded failed, and later `ai-prompt`s are
 * refused (`INTERRUPTED`). The hub calls it before its `server-shutdown`
 * goes out, so that clients hear of their jobs while still connected.
 * Text a job wrote stays. Idempotent.
 */
void
prd_hub_ai_shutdown (PrdHubAi *self)
{
  g_autoptr (GPtrArray) jobs = NULL;
  g_autoptr (GError) error = NULL;

  g_return_if_fail (PRD_IS_HUB_AI (self));

  if (self->stopping)
    return;
  self->stopping = TRUE;
  error = g_error_new_literal (PRD_ERROR, PRD_ERROR_INTERRUPTED,
                               "The hub is stopping; the AI job was interrupted");
  jobs = prd_hub_ai_list_jobs (self);
  /* The queued ones first: a running job that ends starts the next. */
  for (guint i = 0; i < jobs->len; i++)
    {
      PrdAiJob *job = g_ptr_array_index (jobs, i);

      if (job->state == PRD_AI_JOB_QUEUED && g_hash_table_contains (self->jobs, job->id))
        abort_job (self, job, error);
    }
  for (guint i = 0; i < jobs->len; i++)
    {
      PrdAiJob *job = g_ptr_array_index (jobs, i);

      if (g_hash_table_contains (self->jobs, job->id))
        abort_job (self, job, error);
    }
  /* The last chance for the ends the store refused: the store's last
   * commits are waited for as the hub closes. */
  save_unsaved (self);
}

/* Which jobs and reviews abort_matching() ends. */
typedef struct
{
  const char *prd_id; /* (nullable): those of this PRD */
  const char *org;    /* (nullable): else those asked by this user with a */
  const char *user_id;
  gint64 revoked_at; /* token issued at or before this */
} Matching;

static gboolean
job_matches (PrdAiJob *job, const Matching *m)
{
  if (m->prd_id != NULL)
    return g_str_equal (job->prd_id, m->prd_id);
  return prd_ai_job_is_owned_by (job, m->org, m->user_id) &&
         ((JobData *) job->data)->iat <= m->revoked_at;
}

static gboolean
review_matches (Review *review, const Matching *m)
{
  if (m->prd_id != NULL)
    return g_str_equal (review->prd_id, m->prd_id);
  return g_str_equal (review->org, m->org) && g_str_equal (review->user_id, m->user_id) &&
         review->iat <= m->revoked_at;
}

/* Ends every job (the queued ones first, so that a running one that ends
 * starts none of the others) and review that @m takes, with @job_error and
 * @review_error. */
static void
abort_matching (PrdHubAi *self,
                const Matching *m,
                const GError *job_error,
                const GError *review_error)
{
  g_autoptr (GPtrArray) jobs = prd_hub_ai_list_jobs (self);
  g_autoptr (GPtrArray) reviews = g_ptr_array_new ();
  GHashTableIter iter;
  Review *review;

  for (int pass = 0; pass < 2; pass++)
    for (guint i = 0; i < jobs->len; i++)
      {
        PrdAiJob *job = g_ptr_array_index (jobs, i);

        if ((pass == 1 || job->state == PRD_AI_JOB_QUEUED) &&
            g_hash_table_contains (self->jobs, job->id) && job_matches (job, m))
          abort_job (self, job, job_error);
      }

  g_hash_table_iter_init (&iter, self->under_review);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &review))
    if (!review->ended && review_matches (review, m))
      g_ptr_array_add (reviews, review);
  for (guint i = 0; i < reviews->len; i++)
    abort_review (g_ptr_array_index (reviews, i), review_error);
}

/**
 * prd_hub_ai_prd_deleted:
 * @prd_id: the PRD that was deleted
 *
 * Ends every AI job of @prd_id at once, queued or running, preview or
 * insert: `ai-error` `PRD_NOT_FOUND` to its requester (queued) or to the
 * room (running; the hub calls this before the room closes), recorded
 * `failed` with that code; the provider's request is cancelled and its
 * slot starts the next job. A review of @prd_id at the provider ends so
 * too: `ai-error` `PRD_NOT_FOUND` (with its `reviewId`) to its requester,
 * and its place among the reviews is free again.
 */
void
prd_hub_ai_prd_deleted (PrdHubAi *self, const char *prd_id)
{
  Matching m = { .prd_id = prd_id };
  g_autoptr (GError) job_error = NULL;
  g_autoptr (GError) review_error = NULL;

  g_return_if_fail (PRD_IS_HUB_AI (self));
  g_return_if_fail (prd_id != NULL);

  job_error = g_error_new (PRD_ERROR, PRD_ERROR_PRD_NOT_FOUND,
                           "The PRD %s was deleted; the AI job was cancelled", prd_id);
  review_error = g_error_new (PRD_ERROR, PRD_ERROR_PRD_NOT_FOUND,
                              "The PRD %s was deleted; the review was cancelled", prd_id);
  abort_matching (self, &m, job_error, review_error);
}

/**
 * prd_hub_ai_identities_revoked:
 * @org: the user's organization
 * @user_id: the user (the tokens' `sub`)
 * @revoked_at: seconds since the Unix epoch: the user's tokens issued at
 *   or before it (or without `iat`) are revoked
 *
 * The operator revoked the user's tokens (`prdhub token revoke`): every AI
 * job the user asked for with one of those tokens, queued or running, ends
 * at once, as for a deleted PRD (abort_job()), with `ai-error`
 * `TOKEN_REVOKED` and recorded `failed` with that code; none of them starts
 * and nothing more is written. A review so asked ends too. The hub calls
 * this before it ends the user's connections, so that they hear of it.
 */
void
prd_hub_ai_identities_revoked (PrdHubAi *self,
                               const char *org,
                               const char *user_id,
                               gint64 revoked_at)
{
  Matching m = { .org = org, .user_id = user_id, .revoked_at = revoked_at };
  g_autoptr (GError) job_error = NULL;
  g_autoptr (GError) review_error = NULL;

  g_return_if_fail (PRD_IS_HUB_AI (self));
  g_return_if_fail (org != NULL && user_id != NULL);

  job_error = g_error_new_literal (PRD_ERROR, PRD_ERROR_TOKEN_REVOKED,
                                   "The requester's tokens were revoked; the AI job was cancelled");
  review_error =
      g_error_new_literal (PRD_ERROR, PRD_ERROR_TOKEN_REVOKED,
                           "The requester's tokens were revoked; the review was cancelled");
  abort_matching (self, &m, job_error, review_error);
}

/* A room closed under its jobs (an edit could not be stored: every member
 * was sent away to rejoin; prd_hub_room_close() after its jobs ended). Its
 * jobs end now rather than at their next piece: ai-error to each
 * requester, since nobody is in the room any more, and their requests at
 * the provider are cancelled. A job of a new room of the same PRD (joined
 * again) goes on. */
static void
on_room_closed (PrdHubRoomRegistry *rooms, const char *prd_id, gpointer user_data)
{
  PrdHubAi *self = user_data;
  g_autoptr (GPtrArray) jobs = prd_hub_ai_list_jobs (self);
  g_autoptr (GError) error = g_error_new (
      PRD_ERROR, PRD_ERROR_STORAGE,
      "The PRD %s could not be stored and was closed; the AI job stopped (join it again)", prd_id);

  /* The queued ones first, so that a running one that ends starts a job
   * of another room. */
  for (int pass = 0; pass < 2; pass++)
    for (guint i = 0; i < jobs->len; i++)
      {
        PrdAiJob *job = g_ptr_array_index (jobs, i);
        JobData *data = job->data;

        if ((pass == 0 && job->state != PRD_AI_JOB_QUEUED) ||
            !g_hash_table_contains (self->jobs, job->id) || !g_str_equal (job->prd_id, prd_id) ||
            data->room == NULL || prd_hub_room_is_open (data->room))
          continue;
        abort_job (self, job, error);
      }
}
