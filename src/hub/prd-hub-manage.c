/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Managing PRDs: rename, archive / unarchive and delete (the REST routes are
 * prd-hub-rest-manage.c, the command line goes through them).
 *
 * Who may do what (the token's role, within its organization; another
 * organization's PRD is indistinguishable from an unknown one):
 *
 * - rename, archive, unarchive: editors and admins;
 * - delete: admins, and the PRD's owner when an editor;
 * - viewers: nothing.
 *
 * What others must learn is emitted, and prd-hub.c wires it:
 *
 * - #PrdHubManage::prd-updated (title or archived state changed): the room
 *   registry updates an open room and sends `prd-updated` to its members;
 * - #PrdHubManage::prd-deleted: the room registry sends `prd-deleted` and
 *   closes the room.
 *
 * A deleted PRD's versions stay in git (tags and commits) unless asked:
 * with purge, its tags go and the branch's latest tree drops its file
 * (prd_git_repo_purge_async()).
 */
#define G_LOG_DOMAIN "prd-hub-manage"

#include "config.h"

#include "prd-error.h"
#include "prd-hub-room.h"
#include "prd-time.h"

#include "prd-hub-manage.h"

struct _PrdHubManage
{
  GObject parent_instance;

  PrdStore *store;        /* (owned) */
  PrdManageStore *manage; /* (owned) */
  PrdGitRepo *repo;       /* (owned) (nullable): no versions are kept */
};

enum
{
  SIGNAL_PRD_UPDATED,
  SIGNAL_PRD_DELETED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (PrdHubManage, prd_hub_manage, G_TYPE_OBJECT)

typedef enum
{
  ACTION_UPDATE,
  ACTION_DELETE,
} Action;

typedef struct
{
  Action action;
  PrdIdentity *identity; /* (owned) */
  char *prd_id;
  char *title; /* (nullable) */
  PrdManageArchive archive;
  gboolean purge;
  PrdStoreInfo *before; /* (owned) (nullable) */
  guint purged;
} Call;

static void
call_free (Call *call)
{
  g_clear_pointer (&call->identity, prd_identity_free);
  g_free (call->prd_id);
  g_free (call->title);
  g_clear_pointer (&call->before, prd_store_info_free);
  g_free (call);
}

/* { prdId, …, by: { id, name }, timestamp } for the room's event */
static JsonNode *
event_payload (const char *prd_id, const PrdStoreInfo *info, const PrdIdentity *identity)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autofree char *timestamp = prd_time_format_now ();

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "prdId");
  json_builder_add_string_value (builder, prd_id);
  if (info != NULL)
    {
      json_builder_set_member_name (builder, "prd");
      json_builder_begin_object (builder);
      prd_hub_add_prd_info (builder, info);
      json_builder_end_object (builder);
    }
  json_builder_set_member_name (builder, "by");
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "id");
  json_builder_add_string_value (builder, identity->user_id);
  json_builder_set_member_name (builder, "name");
  json_builder_add_string_value (builder, identity->name);
  json_builder_end_object (builder);
  json_builder_set_member_name (builder, "timestamp");
  json_builder_add_string_value (builder, timestamp);
  json_builder_end_object (builder);
  return json_builder_get_root (builder);
}

static void
on_purged (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  Call *call = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;

  if (!prd_git_repo_purge_finish (PRD_GIT_REPO (source), result, &call->purged, &error))
    {
      g_warning ("Deleted %s but could not purge its versions: %s", call->prd_id, error->message);
      g_task_return_new_error (task, PRD_ERROR, PRD_ERROR_STORAGE,
                               "%s was deleted, but its versions could not be purged: %s",
                               call->prd_id, error->message);
      return;
    }
  g_task_return_boolean (task, TRUE);
}

static void
on_deleted (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  PrdHubManage *self = g_task_get_source_object (task);
  Call *call = g_task_get_task_data (task);
  g_autoptr (JsonNode) payload = NULL;
  GError *error = NULL;

  if (!prd_store_delete_finish (PRD_STORE (source), result, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  g_message ("%s deleted by %s of %s%s", call->prd_id, call->identity->user_id, call->identity->org,
             call->purge ? " (versions purged)" : "");
  payload = event_payload (call->prd_id, NULL, call->identity);
  g_signal_emit (self, signals[SIGNAL_PRD_DELETED], 0, call->prd_id, call->before->org, payload);
  if (call->purge && self->repo != NULL)
    {
      g_autofree char *message = g_strdup_printf ("Delete %s", call->prd_id);
      g_autofree char *email =
          g_strdup_printf ("%s@%s", call->identity->user_id, call->identity->org);

      prd_git_repo_purge_async (self->repo, call->prd_id, message, call->identity->name, email,
                                g_get_real_time (), NULL, on_purged, g_steal_pointer (&task));
      return;
    }
  g_task_return_boolean (task, TRUE);
}

static void
on_updated (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  PrdHubManage *self = g_task_get_source_object (task);
  Call *call = g_task_get_task_data (task);
  g_autoptr (PrdStoreInfo) info = NULL;
  GError *error = NULL;

  info = prd_manage_store_update_finish (PRD_MANAGE_STORE (source), result, &error);
  if (info == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  if (!g_str_equal (info->title, call->before->title) ||
      (info->archived_at != 0) != (call->before->archived_at != 0))
    {
      g_autoptr (JsonNode) payload = event_payload (info->id, info, call->identity);

      g_signal_emit (self, signals[SIGNAL_PRD_UPDATED], 0, info, payload);
    }
  g_task_return_pointer (task, g_steal_pointer (&info), (GDestroyNotify) prd_store_info_free);
}

static void
on_got (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  PrdHubManage *self = g_task_get_source_object (task);
  Call *call = g_task_get_task_data (task);
  GError *error = NULL;

  call->before = prd_store_get_finish (PRD_STORE (source), result, &error);
  if (call->before != NULL && !g_str_equal (call->before->org, call->identity->org))
    {
      /* Indistinguishable from an unknown id, on purpose. */
      g_clear_pointer (&call->before, prd_store_info_free);
      error = prd_error_new_prd_not_found (call->prd_id);
    }
  if (call->before == NULL)
    {
      if (g_error_matches (error, PRD_ERROR, PRD_ERROR_NOT_FOUND))
        error->code = PRD_ERROR_PRD_NOT_FOUND;
      g_task_return_error (task, error);
      return;
    }
  if (call->action == ACTION_DELETE)
    {
      if (call->identity->role != PRD_ROLE_ADMIN &&
          !g_str_equal (call->identity->user_id, call->before->owner))
        {
          g_task_return_new_error (task, PRD_ERROR, PRD_ERROR_FORBIDDEN,
                                   "Only the PRD's owner (%s) or an admin may delete it",
                                   call->before->owner);
          return;
        }
      prd_store_delete_async (self->store, call->prd_id, NULL, on_deleted, g_steal_pointer (&task));
      return;
    }
  prd_manage_store_update_async (self->manage, call->prd_id, call->title, call->archive, NULL,
                                 on_updated, g_steal_pointer (&task));
}

static void
start (PrdHubManage *self, GTask *task, Call *call)
{
  GError *error = NULL;

  g_task_set_task_data (task, call, (GDestroyNotify) call_free);
  if (!prd_store_validate_prd_id (call->prd_id, &error) ||
      (call->title != NULL && !prd_store_validate_title (call->title, &error)))
    {
      g_task_return_error (task, error);
      return;
    }
  if (call->identity->role == PRD_ROLE_VIEWER)
    {
      g_task_return_new_error (task, PRD_ERROR, PRD_ERROR_FORBIDDEN, "Viewers cannot %s PRDs",
                               call->action == ACTION_DELETE ? "delete" : "change");
      return;
    }
  prd_store_get_async (self->store, call->prd_id, NULL, on_got, g_object_ref (task));
}

/**
 * prd_hub_manage_update_async:
 * @identity: who asks (an editor or admin of the PRD's organization)
 * @title: (nullable): the new title, or %NULL to keep it
 * @archive: whether to archive or unarchive it
 *
 * Renames and/or archives a PRD; #PrdHubManage::prd-updated is emitted
 * when that changed anything.
 */
void
prd_hub_manage_update_async (PrdHubManage *self,
                             const PrdIdentity *identity,
                             const char *prd_id,
                             const char *title,
                             PrdManageArchive archive,
                             GCancellable *cancellable,
                             GAsyncReadyCallback callback,
                             gpointer user_data)
{
  g_autoptr (GTask) task = NULL;
  Call *call;

  g_return_if_fail (PRD_IS_HUB_MANAGE (self));
  g_return_if_fail (identity != NULL && prd_id != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, prd_hub_manage_update_async);
  call = g_new0 (Call, 1);
  call->action = ACTION_UPDATE;
  call->identity = prd_identity_copy (identity);
  call->prd_id = g_strdup (prd_id);
  call->title = g_strdup (title);
  call->archive = archive;
  start (self, task, call);
}

/**
 * prd_hub_manage_update_finish:
 *
 * Returns: (transfer full): the PRD as it is now, or %NULL with @error set
 */
PrdStoreInfo *
prd_hub_manage_update_finish (PrdHubManage *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * prd_hub_manage_delete_async:
 * @identity: who asks (an admin, or the owner when an editor)
 * @purge_versions: also forget its versions in git
 *
 * Deletes a PRD with its update log, versions records, comments and
 * conflicts; #PrdHubManage::prd-deleted is emitted once it is gone.
 */
void
prd_hub_manage_delete_async (PrdHubManage *self,
                             const PrdIdentity *identity,
                             const char *prd_id,
                             gboolean purge_versions,
                             GCancellable *cancellable,
                             GAsyncReadyCallback callback,
                             gpointer user_data)
{
  g_autoptr (GTask) task = NULL;
  Call *call;

  g_return_if_fail (PRD_IS_HUB_MANAGE (self));
  g_return_if_fail (identity != NULL && prd_id != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, prd_hub_manage_delete_async);
  call = g_new0 (Call, 1);
  call->action = ACTION_DELETE;
  call->identity = prd_identity_copy (identity);
  call->prd_id = g_strdup (prd_id);
  call->purge = purge_versions;
  start (self, task, call);
}

/**
 * prd_hub_manage_delete_finish:
 * @out_purged: (out) (optional): how many version tags were purged
 *
 * Returns: %TRUE once the PRD is deleted (and its versions purged when asked)
 */
gboolean
prd_hub_manage_delete_finish (PrdHubManage *self,
                              GAsyncResult *result,
                              guint *out_purged,
                              GError **error)
{
  Call *call;

  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  call = g_task_get_task_data (G_TASK (result));
  if (!g_task_propagate_boolean (G_TASK (result), error))
    return FALSE;
  if (out_purged != NULL)
    *out_purged = call->purged;
  return TRUE;
}

static void
prd_hub_manage_dispose (GObject *object)
{
  PrdHubManage *self = PRD_HUB_MANAGE (object);

  g_clear_object (&self->store);
  g_clear_object (&self->manage);
  g_clear_object (&self->repo);
  G_OBJECT_CLASS (prd_hub_manage_parent_class)->dispose (object);
}

static void
prd_hub_manage_class_init (PrdHubManageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = prd_hub_manage_dispose;

  /**
   * PrdHubManage::prd-updated:
   * @info: the PRD as it is now
   * @payload: the `prd-updated` event for its room
   *
   * A PRD was renamed, archived or unarchived.
   */
  signals[SIGNAL_PRD_UPDATED] =
      g_signal_new ("prd-updated", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                    NULL, G_TYPE_NONE, 2, PRD_TYPE_STORE_INFO, JSON_TYPE_NODE);

  /**
   * PrdHubManage::prd-deleted:
   * @prd_id: the PRD, which no longer exists
   * @org: its organization
   * @payload: the `prd-deleted` event for its room
   */
  signals[SIGNAL_PRD_DELETED] =
      g_signal_new ("prd-deleted", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                    NULL, G_TYPE_NONE, 3, G_TYPE_STRING, G_TYPE_STRING, JSON_TYPE_NODE);
}

static void
prd_hub_manage_init (PrdHubManage *self)
{
}

/**
 * prd_hub_manage_new:
 * @repo: (nullable): the versions repository, for purges
 */
PrdHubManage *
prd_hub_manage_new (PrdStore *store, PrdManageStore *manage, PrdGitRepo *repo)
{
  PrdHubManage *self;

  g_return_val_if_fail (PRD_IS_STORE (store), NULL);
  g_return_val_if_fail (PRD_IS_MANAGE_STORE (manage), NULL);

  self = g_object_new (PRD_TYPE_HUB_MANAGE, NULL);
  self->store = g_object_ref (store);
  self->manage = g_object_ref (manage);
  self->repo = repo != NULL ? g_object_ref (repo) : NULL;
  return self;
}
