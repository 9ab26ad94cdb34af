/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * PrdHubCreation: creating a PRD (REST, the command line). The PRD row is
 * created with its initial content, one insert of the hub's own site, in
 * one store transaction, and #PrdHubCreation::prd-created tells whoever
 * keeps track (the activity feed) before the caller hears of it.
 *
 * The initial content's CRDT insert is built on a thread of its own, one
 * creation at a time: for a PRD of the largest size it takes milliseconds
 * the main thread (every room) must not spend.
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
  char *id;
  char *org;
  char *title;
  char *owner;
  char *owner_name;
  char *content; /* (nullable): until encoded */
  PrdStoreInfo *info;
} CreateData;

static void
create_data_free (CreateData *data)
{
  g_free (data->id);
  g_free (data->org);
  g_free (data->title);
  g_free (data->owner);
  g_free (data->content);
  g_free (data->owner_name);
  g_clear_pointer (&data->info, prd_store_info_free);
  g_free (data);
}

/* The PRD exists, with its content: everyone interested hears of it, then
 * the caller. */
static void
create_on_created (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  g_autoptr (GError) error = NULL;
  PrdHubCreation *self = g_task_get_source_object (task);
  CreateData *data = g_task_get_task_data (task);

  data->info = prd_store_create_finish (PRD_STORE (source), result, &error);
  if (data->info == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  g_signal_emit (self, signals[SIGNAL_PRD_CREATED], 0, data->info, data->owner_name);
  g_task_return_pointer (task, prd_store_info_copy (data->info),
                         (GDestroyNotify) prd_store_info_free);
}

/* @content as the first operation of a new PRD: one insert on site 0, which
 * the store gives the hub's user together with the PRD. */
static GBytes *
encode_content (const char *content, GError **error)
{
  g_autoptr (PrdCrdtDoc) crdt = prd_crdt_doc_new ();
  g_autoptr (PrdCrdtOp) op = NULL;
  const guint32 base[1] = { 0 };

  if (!prd_crdt_doc_apply_local_insert (crdt, 0, base, G_N_ELEMENTS (base), 0, content, -1,
                                        g_get_real_time () / 1000, &op, error))
    return NULL;
  g_assert (op->site == 0 && op->seq == 1);
  return prd_crdt_ops_encode (&op, 1);
}

/* On the encoder's thread: the CRDT is this task's own. */
static void
encode_in_thread (gpointer data, gpointer user_data)
{
  g_autoptr (GTask) task = data;
  GError *error = NULL;
  GBytes *update = encode_content (g_task_get_task_data (task), &error);

  if (update == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, update, (GDestroyNotify) g_bytes_unref);
}

/* One thread encodes every creation's content, one after the other: a
 * burst of creations must not take every core from the main thread. */
static GThreadPool *
encoder (void)
{
  static gsize created;
  static GThreadPool *pool;

  if (g_once_init_enter (&created))
    {
      pool = g_thread_pool_new (encode_in_thread, NULL, 1, FALSE, NULL);
      g_once_init_leave (&created, 1);
    }
  return pool;
}

/* One transaction: a PRD read between its row and its content would be
 * joined empty, and that room's snapshot would drop the content. */
static void
create_store (GTask *task, GBytes *update)
{
  PrdHubCreation *self = g_task_get_source_object (task);
  CreateData *data = g_task_get_task_data (task);

  prd_store_create_with_update_async (self->store, data->id, data->org, data->title, data->owner,
                                      PRD_AUTH_HUB_USER_ID, 1, update,
                                      g_task_get_cancellable (task), create_on_created, task);
}

static void
on_encoded (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  g_autoptr (GBytes) update = NULL;
  GError *error = NULL;

  update = g_task_propagate_pointer (G_TASK (result), &error);
  if (update == NULL)
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  create_store (task, update);
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
  g_autoptr (GTask) encode = NULL;
  CreateData *data;
  guint32 units;

  g_return_if_fail (PRD_IS_HUB_CREATION (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, prd_hub_creation_create_async);
  data = g_new0 (CreateData, 1);
  data->id = prd_store_generate_prd_id ();
  data->org = g_strdup (org);
  data->title = g_strdup (title);
  data->owner = g_strdup (owner);
  data->owner_name = g_strdup (owner_name);
  g_task_set_task_data (task, data, (GDestroyNotify) create_data_free);
  if (content != NULL && !prd_utf16_length (content, &units))
    {
      g_task_return_new_error (task, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
                               "The content is not valid UTF-8 text");
      return;
    }
  if (content == NULL || *content == '\0')
    {
      create_store (g_steal_pointer (&task), NULL);
      return;
    }
  data->content = g_strdup (content);
  encode = g_task_new (self, cancellable, on_encoded, g_steal_pointer (&task));
  g_task_set_source_tag (encode, encode_in_thread);
  g_task_set_task_data (encode, g_steal_pointer (&data->content), g_free);
  g_thread_pool_push (encoder (), g_steal_pointer (&encode), NULL);
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
