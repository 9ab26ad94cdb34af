/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * PrdHubCreation: creating a PRD (REST, the command line). The PRD row is
 * created, its initial content stored as one insert of the hub's own site,
 * and #PrdHubCreation::prd-created tells whoever keeps track (the activity
 * feed) before the caller hears of it.
 */
#define G_LOG_DOMAIN "prd-hub-creation"

#include "config.h"

#include "prd-auth.h"
#include "prd-crdt.h"
#include "prd-document.h"
#include "prd-error.h"

#include "prd-hub-creation.h"

struct _PrdHubCreation
{
  GObject parent_instance;

  PrdStore *store; /* (owned) */
};

enum
{
  SIGNAL_PRD_CREATED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (PrdHubCreation, prd_hub_creation, G_TYPE_OBJECT)

typedef struct
{
  char *content;
  char *owner;
  char *owner_name;
  PrdStoreInfo *info;
  GBytes *update;
  int site;
} CreateData;

static void
create_data_free (CreateData *data)
{
  g_free (data->content);
  g_free (data->owner);
  g_free (data->owner_name);
  g_clear_pointer (&data->info, prd_store_info_free);
  g_clear_pointer (&data->update, g_bytes_unref);
  g_free (data);
}

/* The PRD exists: everyone interested hears of it, then the caller. */
static void
create_done (GTask *task)
{
  PrdHubCreation *self = g_task_get_source_object (task);
  CreateData *data = g_task_get_task_data (task);

  g_signal_emit (self, signals[SIGNAL_PRD_CREATED], 0, data->info, data->owner_name);
  g_task_return_pointer (task, prd_store_info_copy (data->info),
                         (GDestroyNotify) prd_store_info_free);
  g_object_unref (task);
}

static void
create_on_info (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  g_autoptr (GError) error = NULL;
  CreateData *data = g_task_get_task_data (task);
  PrdStoreInfo *info = prd_store_get_finish (PRD_STORE (source), result, &error);

  if (info == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  prd_store_info_free (data->info);
  data->info = info;
  create_done (g_steal_pointer (&task));
}

static void
create_on_appended (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  g_autoptr (GError) error = NULL;
  CreateData *data = g_task_get_task_data (task);

  if (prd_store_append_update_finish (PRD_STORE (source), result, &error) == 0 && error != NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  prd_store_get_async (PRD_STORE (source), data->info->id, g_task_get_cancellable (task),
                       create_on_info, g_object_ref (task));
}

static void
create_on_site (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (PrdStoreSite) site = NULL;
  g_autoptr (PrdCrdtDoc) crdt = NULL;
  g_autoptr (PrdCrdtOp) op = NULL;
  g_autoptr (GArray) base = NULL;
  g_autoptr (GBytes) encoded = NULL;
  CreateData *data = g_task_get_task_data (task);
  GCancellable *cancellable;

  site = prd_store_acquire_site_finish (PRD_STORE (source), result, &error);
  if (site == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  crdt = prd_crdt_doc_new ();
  base = g_array_new (FALSE, TRUE, sizeof (guint32));
  g_array_set_size (base, site->site + 1);
  if (!prd_crdt_doc_apply_local_insert (crdt, site->site, (const guint32 *) base->data, base->len,
                                        0, data->content, -1, g_get_real_time () / 1000, &op,
                                        &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  encoded = prd_crdt_ops_encode (&op, 1);
  cancellable = g_task_get_cancellable (task);
  prd_store_append_update_async (PRD_STORE (source), data->info->id, site->site, op->seq,
                                 PRD_AUTH_HUB_USER_ID, encoded, cancellable, create_on_appended,
                                 g_steal_pointer (&task));
}

static void
create_on_created (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  g_autoptr (GError) error = NULL;
  CreateData *data = g_task_get_task_data (task);
  GCancellable *cancellable;

  data->info = prd_store_create_finish (PRD_STORE (source), result, &error);
  if (data->info == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (data->content == NULL || *data->content == '\0')
    {
      create_done (g_steal_pointer (&task));
      return;
    }
  cancellable = g_task_get_cancellable (task);
  prd_store_acquire_site_async (PRD_STORE (source), data->info->id, PRD_AUTH_HUB_USER_ID, NULL, 0,
                                cancellable, create_on_site, g_steal_pointer (&task));
}

/**
 * prd_hub_creation_create_async:
 * @org: the organization the PRD belongs to
 * @owner: its owner's user id
 * @owner_name: (nullable): the owner's display name, for #PrdHubCreation::prd-created
 * @content: (nullable): initial Markdown, stored as one insert by the hub's
 *   own site (user `hub`) so that it merges like any edit
 *
 * Creates a PRD with a fresh id and emits #PrdHubCreation::prd-created.
 */
void
prd_hub_creation_create_async (PrdHubCreation *self,
                               const char *org,
                               const char *title,
                               const char *owner,
                               const char *owner_name,
                               const char *content,
                               GCancellable *cancellable,
                               GAsyncReadyCallback callback,
                               gpointer user_data)
{
  g_autoptr (GTask) task = NULL;
  g_autofree char *id = prd_store_generate_prd_id ();
  CreateData *data;
  guint32 units;

  g_return_if_fail (PRD_IS_HUB_CREATION (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, prd_hub_creation_create_async);
  data = g_new0 (CreateData, 1);
  data->content = g_strdup (content);
  data->owner = g_strdup (owner);
  data->owner_name = g_strdup (owner_name);
  g_task_set_task_data (task, data, (GDestroyNotify) create_data_free);
  if (content != NULL && !prd_utf16_length (content, &units))
    {
      g_task_return_new_error (task, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
                               "The content is not valid UTF-8 text");
      return;
    }
  prd_store_create_async (self->store, id, org, title, owner, cancellable, create_on_created,
                          g_steal_pointer (&task));
}

/**
 * prd_hub_creation_create_finish:
 *
 * Returns: (transfer full): the new PRD, or %NULL with @error set
 */
PrdStoreInfo *
prd_hub_creation_create_finish (PrdHubCreation *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
prd_hub_creation_dispose (GObject *object)
{
  PrdHubCreation *self = PRD_HUB_CREATION (object);

  g_clear_object (&self->store);

  G_OBJECT_CLASS (prd_hub_creation_parent_class)->dispose (object);
}

static void
prd_hub_creation_class_init (PrdHubCreationClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = prd_hub_creation_dispose;

  /**
   * PrdHubCreation::prd-created:
   * @info: the new PRD
   * @actor_name: (nullable): the creator's display name
   *
   * A PRD and its initial content are stored.
   */
  signals[SIGNAL_PRD_CREATED] =
      g_signal_new ("prd-created", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                    NULL, G_TYPE_NONE, 2, PRD_TYPE_STORE_INFO, G_TYPE_STRING);
}

static void
prd_hub_creation_init (PrdHubCreation *self)
{
}

/**
 * prd_hub_creation_new:
 * @store: where PRDs live
 *
 * Returns: (transfer full): a new #PrdHubCreation
 */
PrdHubCreation *
prd_hub_creation_new (PrdStore *store)
{
  PrdHubCreation *self;

  g_return_val_if_fail (PRD_IS_STORE (store), NULL);

  self = g_object_new (PRD_TYPE_HUB_CREATION, NULL);
  self->store = g_object_ref (store);
  return self;
}
