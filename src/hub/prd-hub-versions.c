/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Versions: `create-version` on /prds (the REST routes that read them are
 * prd-hub-rest-versions.c).
 *
 * create-version commits the PRD's committed text (what the store holds:
 * every operation is acked only after its append committed) to the
 * versions repository, records the version in the version store (which
 * also sets the PRD's version field), then tells the room (`version-created`,
 * `git-commit`) and acks. Requests for one PRD run one after another, so
 * concurrent calls get distinct versions in the order they arrived; a
 * failure anywhere answers that request with an error and the next one
 * starts from what is stored. A text equal to the PRD's current version's
 * is refused with VERSION_UNCHANGED unless the request says `force` (the
 * event and REST alike; the operator's D-Bus call always creates). A
 * version number whose tag the repository has already (a crash came
 * between a commit and its record) is skipped: the version takes the next
 * free number, and the tag is never moved.
 */
#define G_LOG_DOMAIN "prd-hub-versions"

#include "config.h"

#include <string.h>

#include "prd-error.h"
#include "prd-hub-context.h"
#include "prd-hub-config-server.h"
#include "prd-version-store.h"

#include "prd-hub-versions.h"

#define EVENT "create-version"

struct _PrdHubVersions
{
  GObject parent_instance;

  PrdSioNamespace *nsp;      /* (unowned) (nullable): weak pointer */
  PrdHubRoomRegistry *rooms; /* (owned) */
  PrdStore *store;           /* (owned) */
  PrdVersionStore *versions; /* (owned) */
  PrdGitRepo *repo;          /* (owned) */
  GHashTable *queues;        /* prd id → (owned) GQueue of Create; head is running */
};

G_DEFINE_FINAL_TYPE (PrdHubVersions, prd_hub_versions, G_TYPE_OBJECT)

enum
{
  SIGNAL_VERSION_CREATED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

typedef struct
{
  PrdHubVersions *self;  /* (owned) */
  PrdSioSocket *socket;  /* (owned) (nullable): NULL for the operator's request */
  GTask *task;           /* (owned) (nullable): the operator's request */
  gboolean any_org;      /* the operator's: the PRD's organization, whichever */
  gboolean unchanged_ok; /* a text equal to the previous version's is accepted */
  gboolean want_record;  /* the task returns the record, not the version string */
  gint64 ack_id;
  PrdIdentity *identity; /* (owned) */
  char *prd_id;
  char *changelog;
  char *type;
  char *title;              /* (owned) (nullable): the PRD's, once loaded */
  char *text;               /* (owned) (nullable): what the version holds, once loaded */
  char *email;              /* (owned) (nullable) */
  PrdVersionRecord *record; /* (owned) (nullable) */
  GError *dropped;          /* (owned) (nullable): the answer, once the version's tag is deleted */
} Create;

static void create_start (Create *create);

static void
create_free (Create *create)
{
  g_clear_object (&create->self);
  g_clear_object (&create->socket);
  g_clear_object (&create->task);
  g_clear_pointer (&create->identity, prd_identity_free);
  g_free (create->prd_id);
  g_free (create->changelog);
  g_free (create->type);
  g_free (create->title);
  g_free (create->text);
  g_free (create->email);
  g_clear_pointer (&create->record, prd_version_record_free);
  g_clear_error (&create->dropped);
  g_free (create);
}

/**
 * prd_hub_version_to_json:
 *
 * Returns: (transfer full): @record as the protocol's version object (the
 *   socket events and the REST routes of versions)
 */
JsonNode *
prd_hub_version_to_json (const PrdVersionRecord *record)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autofree char *created = prd_time_format (record->created_at);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "id");
  json_builder_add_string_value (builder, record->id);
  json_builder_set_member_name (builder, "version");
  json_builder_add_string_value (builder, record->version);
  json_builder_set_member_name (builder, "changelog");
  json_builder_add_string_value (builder, record->changelog);
  json_builder_set_member_name (builder, "commitHash");
  json_builder_add_string_value (builder, record->commit_hash);
  json_builder_set_member_name (builder, "createdBy");
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "id");
  json_builder_add_string_value (builder, record->created_by_id);
  json_builder_set_member_name (builder, "name");
  json_builder_add_string_value (builder, record->created_by_name);
  json_builder_end_object (builder);
  json_builder_set_member_name (builder, "createdAt");
  json_builder_add_string_value (builder, created);
  json_builder_end_object (builder);
  return json_builder_get_root (builder);
}

/* Removes the finished head of its PRD's queue and starts the next. */
static void
create_done (Create *create)
{
  PrdHubVersions *self = g_object_ref (create->self);
  g_autofree char *prd_id = g_strdup (create->prd_id);
  GQueue *queue = g_hash_table_lookup (self->queues, prd_id);
  Create *next;

  g_assert (queue != NULL && g_queue_peek_head (queue) == create);
  g_queue_pop_head (queue);
  create_free (create);
  next = g_queue_peek_head (queue);
  if (next != NULL)
    create_start (next);
  else
    g_hash_table_remove (self->queues, prd_id);
  g_object_unref (self);
}

static void
create_fail (Create *create, GError *error)
{
  if (error->domain != PRD_ERROR)
    {
      g_autofree char *message = g_strdup (error->message);

      g_clear_error (&error);
      error = g_error_new (PRD_ERROR, PRD_ERROR_STORAGE, "Cannot create the version: %s", message);
    }
  if (error->code == PRD_ERROR_STORAGE || error->code == PRD_ERROR_INTERNAL)
    g_warning ("create-version %s: %s", create->prd_id, error->message);
  if (create->task != NULL)
    g_task_return_error (create->task, g_steal_pointer (&error));
  else
    prd_hub_reply_error (create->socket, create->ack_id, EVENT, create->prd_id, error);
  g_clear_error (&error);
  create_done (create);
}

static void
on_tag_dropped (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Create *create = user_data;
  g_autoptr (GError) error = NULL;

  if (!prd_git_repo_drop_tag_finish (PRD_GIT_REPO (source), result, &error))
    g_warning ("create-version %s: version %s was not recorded (%s), and its tag %s/v%s could "
               "not be deleted either (%s): it stays in versions.git without a record; a git "
               "push sends it, and the next version of the PRD skips that number",
               create->prd_id, create->record->version, create->dropped->message,
               create->record->prd_id, create->record->version, error->message);
  create_fail (create, g_steal_pointer (&create->dropped));
}

static void
on_recorded (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Create *create = user_data;
  PrdHubVersions *self = create->self;
  const PrdVersionRecord *record = create->record;
  GError *error = NULL;
  g_autoptr (JsonNode) created = NULL;
  g_autoptr (JsonNode) commit = NULL;
  g_autofree char *timestamp = NULL;
  g_autofree char *file = NULL;
  JsonObject *object, *inner, *ack;
  JsonArray *files;

  if (!prd_version_store_add_finish (PRD_VERSION_STORE (source), result, &error))
    {
      /* The record was refused (the PRD deleted between the commit and
       * the record, a full disk, …): nobody is told of the version, so its
       * tag goes too, before anything can push it, and the next version
       * takes its number again. The commit stays on main: the history is
       * never rewritten. */
      if (self->repo != NULL)
        {
          create->dropped = error;
          prd_git_repo_drop_tag_async (self->repo, record->prd_id, record->version, NULL,
                                       on_tag_dropped, create);
          return;
        }
      create_fail (create, error);
      return;
    }
  if (self->rooms == NULL)
    {
      if (create->task != NULL)
        g_task_return_new_error (create->task, PRD_ERROR, PRD_ERROR_INTERNAL,
                                 "The hub is stopping");
      create_done (create);
      return;
    }
  prd_hub_room_registry_set_version (self->rooms, record->prd_id, record->version);

  created = json_node_new (JSON_NODE_OBJECT);
  object = json_object_new ();
  json_node_take_object (created, object);
  json_object_set_string_member (object, "prdId", record->prd_id);
  json_object_set_member (object, "version", prd_hub_version_to_json (record));
  prd_hub_room_registry_emit (self->rooms, record->prd_id, "version-created", created);

  timestamp = prd_time_format (record->created_at);
  file = g_strconcat (record->prd_id, ".md", NULL);
  commit = json_node_new (JSON_NODE_OBJECT);
  object = json_object_new ();
  json_node_take_object (commit, object);
  json_object_set_string_member (object, "prdId", record->prd_id);
  inner = json_object_new ();
  json_object_set_string_member (inner, "hash", record->commit_hash);
  json_object_set_string_member (inner, "message", record->changelog);
  json_object_set_string_member (inner, "author", record->created_by_name);
  json_object_set_string_member (inner, "timestamp", timestamp);
  files = json_array_new ();
  json_array_add_string_element (files, file);
  json_object_set_array_member (inner, "files", files);
  json_object_set_object_member (object, "commit", inner);
  prd_hub_room_registry_emit (self->rooms, record->prd_id, "git-commit", commit);
  g_info ("version: prd=%s version=%s user=%s org=%s commit=%s", record->prd_id, record->version,
          create->identity->user_id, create->identity->org, record->commit_hash);
  g_signal_emit (self, signals[SIGNAL_VERSION_CREATED], 0, record->prd_id, create->identity->org,
                 create->title, record->version, create->identity->user_id, create->identity->name);

  if (create->task != NULL && create->want_record)
    g_task_return_pointer (create->task, prd_version_record_copy (record),
                           (GDestroyNotify) prd_version_record_free);
  else if (create->task != NULL)
    g_task_return_pointer (create->task, g_strdup (record->version), g_free);
  else if (create->ack_id >= 0)
    {
      g_autoptr (JsonNode) node = json_node_new (JSON_NODE_OBJECT);

      ack = json_object_new ();
      json_object_set_boolean_member (ack, "ok", TRUE);
      json_object_set_member (ack, "version", prd_hub_version_to_json (record));
      json_node_take_object (node, ack);
      prd_sio_socket_ack_one (create->socket, create->ack_id, node);
    }
  create_done (create);
}

static void
on_committed (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Create *create = user_data;
  GError *error = NULL;

  create->record->commit_hash = prd_git_repo_commit_finish (PRD_GIT_REPO (source), result, &error);
  if (create->record->commit_hash == NULL &&
      g_error_matches (error, PRD_ERROR, PRD_ERROR_ALREADY_EXISTS))
    {
      PrdVersionRecord *record = create->record;
      char *next;

      /* A tag no record names: a crash came between a commit and its
       * record. It stays as it is (it may have been pushed); this version
       * takes the next free number. Tags are finite: this ends. */
      g_clear_error (&error);
      next = prd_version_bump (record->version, create->type, &error);
      if (next == NULL)
        {
          create_fail (create, error);
          return;
        }
      g_message ("create-version %s: version %s is in the versions repository without a record "
                 "(left by a crash); taking %s",
                 record->prd_id, record->version, next);
      g_free (record->version);
      record->version = next;
      prd_git_repo_commit_async (create->self->repo, record->prd_id, record->version, create->text,
                                 record->changelog, record->created_by_name, create->email,
                                 record->created_at, NULL, on_committed, create);
      return;
    }
  if (create->record->commit_hash == NULL)
    {
      create_fail (create, error);
      return;
    }
  prd_version_store_add_async (create->self->versions, create->record, NULL, on_recorded, create);
}

static void
on_previous_read (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Create *create = user_data;
  PrdVersionRecord *record = create->record;
  g_autofree char *previous = NULL;
  GError *error = NULL;

  previous = prd_git_repo_read_finish (PRD_GIT_REPO (source), result, &error);
  if (previous == NULL && !g_error_matches (error, PRD_ERROR, PRD_ERROR_NOT_FOUND))
    {
      create_fail (create, error);
      return;
    }
  g_clear_error (&error);
  if (previous != NULL && g_str_equal (previous, create->text))
    {
      create_fail (create, g_error_new (PRD_ERROR, PRD_ERROR_VERSION_UNCHANGED,
                                        "The text of %s has not changed since its last "
                                        "version; force to create a version anyway",
                                        create->prd_id));
      return;
    }
  prd_git_repo_commit_async (create->self->repo, record->prd_id, record->version, create->text,
                             record->changelog, record->created_by_name, create->email,
                             record->created_at, NULL, on_committed, create);
}

static void
on_loaded (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Create *create = user_data;
  g_autoptr (PrdStoreDocument) stored = NULL;
  g_autoptr (PrdDocument) document = NULL;
  g_autofree char *text = NULL;
  g_autofree char *email = NULL;
  PrdVersionRecord *record;
  GError *error = NULL;

  stored = prd_store_load_finish (PRD_STORE (source), result, &error);
  if (stored != NULL && create->any_org)
    {
      g_free (create->identity->org);
      create->identity->org = g_strdup (stored->info->org);
    }
  if (stored != NULL && !g_str_equal (stored->info->org, create->identity->org))
    {
      /* Indistinguishable from an unknown id, on purpose. */
      g_clear_pointer (&stored, prd_store_document_free);
      error = prd_error_new_prd_not_found (create->prd_id);
    }
  if (stored != NULL)
    document = prd_hub_document_from_store (stored, &error);
  if (document == NULL)
    {
      if (g_error_matches (error, PRD_ERROR, PRD_ERROR_NOT_FOUND))
        error->code = PRD_ERROR_PRD_NOT_FOUND;
      create_fail (create, error);
      return;
    }

  record = create->record = g_new0 (PrdVersionRecord, 1);
  g_free (create->title);
  create->title = g_strdup (stored->info->title);
  record->version = prd_version_bump (stored->info->version, create->type, &error);
  if (record->version == NULL)
    {
      create_fail (create, error);
      return;
    }
  record->id = prd_version_generate_id ();
  record->prd_id = g_strdup (create->prd_id);
  record->changelog = g_strdup (create->changelog);
  record->created_by_id = g_strdup (create->identity->user_id);
  record->created_by_name = g_strdup (create->identity->name);
  record->created_at = g_get_real_time ();
  text = prd_crdt_doc_get_text (prd_document_get_crdt (document));
  email = g_strdup_printf ("%s@%s", create->identity->user_id, create->identity->org);
  if (!create->unchanged_ok)
    {
      /* Compared with the text of the PRD's current version (none yet: a
       * new PRD's 0.1.0 has no tag, and anything goes). */
      create->text = g_steal_pointer (&text);
      create->email = g_steal_pointer (&email);
      prd_git_repo_read_async (create->self->repo, record->prd_id, stored->info->version, NULL,
                               on_previous_read, create);
      return;
    }
  create->text = g_steal_pointer (&text);
  create->email = g_steal_pointer (&email);
  prd_git_repo_commit_async (create->self->repo, record->prd_id, record->version, create->text,
                             record->changelog, record->created_by_name, create->email,
                             record->created_at, NULL, on_committed, create);
}

static void
create_start (Create *create)
{
  prd_store_load_async (create->self->store, create->prd_id, NULL, on_loaded, create);
}

/* Whether valid UTF-8 @text is empty or only white space, Unicode's
 * (U+00A0, U+2028, U+3000 … as well as ASCII's). */
static gboolean
only_white_space (const char *text)
{
  for (const char *p = text; *p != '\0'; p = g_utf8_next_char (p))
    if (!g_unichar_isspace (g_utf8_get_char (p)))
      return FALSE;
  return TRUE;
}

/* A changelog is a commit message: lines of text, tabs in them; no other
 * control character (an escape sequence in `git log`, a NUL-like C1). */
static gboolean
has_control_characters (const char *text)
{
  for (const char *p = text; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (g_unichar_iscntrl (c) && c != '\t' && c != '\n' && c != '\r')
        return TRUE;
    }
  return FALSE;
}

static gboolean
parse_create (JsonArray *args, Create *create, GError **error)
{
  JsonObject *object = prd_hub_payload_peek_object (args);
  const char *prd_id, *changelog, *type;

  if (object == NULL)
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
                           "The payload must be an object");
      return FALSE;
    }
  if ((prd_id = prd_hub_json_get_string (object, "prdId", error)) == NULL ||
      !prd_store_validate_prd_id (prd_id, error))
    return FALSE;
  create->prd_id = g_strdup (prd_id);
  if ((changelog = prd_hub_json_get_string (object, "changelog", error)) == NULL ||
      (type = prd_hub_json_get_string (object, "versionType", error)) == NULL)
    return FALSE;
  if (!g_utf8_validate (changelog, -1, NULL) || only_white_space (changelog) ||
      g_utf8_strlen (changelog, -1) > PRD_VERSION_CHANGELOG_MAX_CHARS)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
                   "changelog must be 1 to %d characters of text", PRD_VERSION_CHANGELOG_MAX_CHARS);
      return FALSE;
    }
  if (has_control_characters (changelog))
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
                           "changelog must hold no control characters other than tab and line "
                           "breaks");
      return FALSE;
    }
  if (!g_str_equal (type, "major") && !g_str_equal (type, "minor") && !g_str_equal (type, "patch"))
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
                           "versionType must be \"major\", \"minor\" or \"patch\"");
      return FALSE;
    }
  create->changelog = g_strdup (changelog);
  create->type = g_strdup (type);
  return TRUE;
}

static void
queue_create (PrdHubVersions *self, Create *create)
{
  GQueue *queue = g_hash_table_lookup (self->queues, create->prd_id);

  if (queue == NULL)
    {
      queue = g_queue_new ();
      g_hash_table_insert (self->queues, g_strdup (create->prd_id), queue);
    }
  g_queue_push_tail (queue, create);
  if (g_queue_get_length (queue) == 1)
    create_start (create);
}

static void
on_create_version (PrdSioSocket *socket,
                   const char *event,
                   JsonArray *args,
                   GPtrArray *attachments,
                   gint64 ack_id,
                   gpointer user_data)
{
  PrdHubVersions *self = user_data;
  const PrdIdentity *identity = prd_hub_socket_get_identity (socket);
  g_autoptr (GError) error = NULL;
  Create *create = g_new0 (Create, 1);
  JsonNode *force;

  create->self = g_object_ref (self);
  create->socket = g_object_ref (socket);
  create->ack_id = ack_id;
  create->identity = prd_identity_copy (identity);
  if (!parse_create (args, create, &error))
    {
      prd_hub_reply_error (socket, ack_id, event, create->prd_id, error);
      create_free (create);
      return;
    }
  /* As POST /api/prds/{id}/versions: an unchanged text is refused
   * (VERSION_UNCHANGED) unless the added `force` is true. */
  force = json_object_get_member (prd_hub_payload_peek_object (args), "force");
  if (force != NULL && !JSON_NODE_HOLDS_NULL (force))
    {
      if (!JSON_NODE_HOLDS_VALUE (force) || json_node_get_value_type (force) != G_TYPE_BOOLEAN)
        {
          g_set_error_literal (&error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
                               "force must be a boolean");
          prd_hub_reply_error (socket, ack_id, event, create->prd_id, error);
          create_free (create);
          return;
        }
      create->unchanged_ok = json_node_get_boolean (force);
    }
  if (identity->role == PRD_ROLE_VIEWER)
    {
      g_set_error_literal (&error, PRD_ERROR, PRD_ERROR_FORBIDDEN,
                           "Viewers cannot create versions");
      prd_hub_reply_error (socket, ack_id, event, create->prd_id, error);
      create_free (create);
      return;
    }
  queue_create (self, create);
}

/**
 * prd_hub_versions_create_async:
 * @prd_id: a PRD of any organization
 * @changelog: 1 to %PRD_VERSION_CHANGELOG_MAX_CHARS characters
 *
 * Creates a minor version on the operator's behalf (the D-Bus admin
 * interface), as the hub's own user: the same commit, record and events as
 * `create-version`, queued behind the PRD's other requests.
 */
void
prd_hub_versions_create_async (PrdHubVersions *self,
                               const char *prd_id,
                               const char *changelog,
                               GCancellable *cancellable,
                               GAsyncReadyCallback callback,
                               gpointer user_data)
{
  g_autoptr (GTask) task = g_task_new (self, cancellable, callback, user_data);
  g_autoptr (JsonArray) args = json_array_new ();
  g_autoptr (GError) error = NULL;
  JsonObject *payload = json_object_new ();
  Create *create;

  g_return_if_fail (PRD_IS_HUB_VERSIONS (self));
  g_return_if_fail (prd_id != NULL && changelog != NULL);

  g_task_set_source_tag (task, prd_hub_versions_create_async);
  /* The same validation as the event's. */
  json_object_set_string_member (payload, "prdId", prd_id);
  json_object_set_string_member (payload, "changelog", changelog);
  json_object_set_string_member (payload, "versionType", "minor");
  json_array_add_object_element (args, payload);
  create = g_new0 (Create, 1);
  create->self = g_object_ref (self);
  create->ack_id = -1;
  create->any_org = TRUE;
  create->unchanged_ok = TRUE;
  create->identity = prd_identity_new (PRD_HUB_SITE_USER, PRD_HUB_OPERATOR_NAME, NULL,
                                       PRD_HUB_SITE_USER, PRD_ROLE_ADMIN, G_MAXINT64);
  if (!parse_create (args, create, &error))
    {
      create_free (create);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  create->task = g_steal_pointer (&task);
  queue_create (self, create);
}

/**
 * prd_hub_versions_create_finish:
 *
 * Returns: (transfer full): the new version, e.g. `0.2.0`, or %NULL with
 *   @error set
 */
char *
prd_hub_versions_create_finish (PrdHubVersions *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * prd_hub_versions_create_as_async:
 * @identity: who asks: an editor or admin of the PRD's organization
 * @version_type: `major`, `minor` or `patch`
 * @force: create the version even when the text is the same as the
 *   previous version's
 *
 * Creates a version as `create-version` does (the same checks, commit,
 * record and events, queued behind the PRD's other requests), for REST and
 * the command line; unless @force, a text equal to the PRD's current
 * version's fails with %PRD_ERROR_VERSION_UNCHANGED and nothing is written.
 */
void
prd_hub_versions_create_as_async (PrdHubVersions *self,
                                  const PrdIdentity *identity,
                                  const char *prd_id,
                                  const char *changelog,
                                  const char *version_type,
                                  gboolean force,
                                  GCancellable *cancellable,
                                  GAsyncReadyCallback callback,
                                  gpointer user_data)
{
  g_autoptr (GTask) task = g_task_new (self, cancellable, callback, user_data);
  g_autoptr (JsonArray) args = json_array_new ();
  g_autoptr (GError) error = NULL;
  JsonObject *payload = json_object_new ();
  Create *create;

  g_return_if_fail (PRD_IS_HUB_VERSIONS (self));
  g_return_if_fail (identity != NULL && prd_id != NULL && changelog != NULL);
  g_return_if_fail (version_type != NULL);

  g_task_set_source_tag (task, prd_hub_versions_create_as_async);
  json_object_set_string_member (payload, "prdId", prd_id);
  json_object_set_string_member (payload, "changelog", changelog);
  json_object_set_string_member (payload, "versionType", version_type);
  json_array_add_object_element (args, payload);
  create = g_new0 (Create, 1);
  create->self = g_object_ref (self);
  create->ack_id = -1;
  create->want_record = TRUE;
  create->unchanged_ok = force;
  create->identity = prd_identity_copy (identity);
  if (!parse_create (args, create, &error))
    {
      create_free (create);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (identity->role == PRD_ROLE_VIEWER)
    {
      create_free (create);
      g_task_return_new_error (task, PRD_ERROR, PRD_ERROR_FORBIDDEN,
                               "Viewers cannot create versions");
      return;
    }
  create->task = g_steal_pointer (&task);
  queue_create (self, create);
}

/**
 * prd_hub_versions_create_as_finish:
 *
 * Returns: (transfer full): the new version, or %NULL with @error set
 */
PrdVersionRecord *
prd_hub_versions_create_as_finish (PrdHubVersions *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ---- object ------------------------------------------------------------------ */

static const PrdHubEventEntry events[] = {
  { EVENT, on_create_version },
};

static void
prd_hub_versions_dispose (GObject *object)
{
  PrdHubVersions *self = PRD_HUB_VERSIONS (object);

  if (self->nsp != NULL)
    {
      prd_hub_remove_events (self->nsp, events, G_N_ELEMENTS (events));
      g_object_remove_weak_pointer (G_OBJECT (self->nsp), (gpointer *) &self->nsp);
      self->nsp = NULL;
    }
  g_clear_object (&self->rooms);
  g_clear_object (&self->store);
  g_clear_object (&self->versions);
  g_clear_object (&self->repo);

  G_OBJECT_CLASS (prd_hub_versions_parent_class)->dispose (object);
}

static void
prd_hub_versions_finalize (GObject *object)
{
  PrdHubVersions *self = PRD_HUB_VERSIONS (object);

  g_clear_pointer (&self->queues, g_hash_table_unref);

  G_OBJECT_CLASS (prd_hub_versions_parent_class)->finalize (object);
}

static void
prd_hub_versions_class_init (PrdHubVersionsClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = prd_hub_versions_dispose;
  object_class->finalize = prd_hub_versions_finalize;

  /**
   * PrdHubVersions::version-created:
   * @prd_id: the PRD
   * @org: its organization
   * @title: its title
   * @version: the new version
   * @actor_id: who created it
   * @actor_name: their name
   *
   * Emitted once a version is committed, recorded and announced to the room
   * (notifications and the activity feed follow it).
   */
  signals[SIGNAL_VERSION_CREATED] =
      g_signal_new ("version-created", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                    NULL, G_TYPE_NONE, 6, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_STRING,
                    G_TYPE_STRING, G_TYPE_STRING, G_TYPE_STRING);
}

static void
prd_hub_versions_init (PrdHubVersions *self)
{
  /* Every queued request holds a reference on us: a queue is empty here. */
  self->queues =
      g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_queue_free);
}

/**
 * prd_hub_versions_new:
 * @store: where the PRDs' text is read from
 * @versions: where versions are recorded
 * @config: the repository is `<[server] data-dir>/versions.git`
 *
 * Installs the create-version handler on @nsp.
 */
PrdHubVersions *
prd_hub_versions_new (PrdSioNamespace *nsp,
                      PrdHubRoomRegistry *rooms,
                      PrdStore *store,
                      PrdVersionStore *versions,
                      PrdHubConfig *config)
{
  PrdHubVersions *self;
  g_autofree char *path = NULL;

  g_return_val_if_fail (PRD_IS_SIO_NAMESPACE (nsp), NULL);
  g_return_val_if_fail (PRD_IS_HUB_ROOM_REGISTRY (rooms), NULL);
  g_return_val_if_fail (PRD_IS_STORE (store), NULL);
  g_return_val_if_fail (PRD_IS_VERSION_STORE (versions), NULL);

  self = g_object_new (PRD_TYPE_HUB_VERSIONS, NULL);
  self->nsp = nsp;
  g_object_add_weak_pointer (G_OBJECT (nsp), (gpointer *) &self->nsp);
  self->rooms = g_object_ref (rooms);
  self->store = g_object_ref (store);
  self->versions = g_object_ref (versions);
  path =
      g_build_filename (prd_hub_config_get_server (config)->data_dir, PRD_HUB_VERSIONS_REPO, NULL);
  self->repo = prd_git_repo_new (path);
  prd_hub_add_events (nsp, events, G_N_ELEMENTS (events), self);
  return self;
}

PrdGitRepo *
prd_hub_versions_get_repo (PrdHubVersions *self)
{
  g_return_val_if_fail (PRD_IS_HUB_VERSIONS (self), NULL);
  return self->repo;
}
