/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Pushing the versions to an organization's git remote (the "git"
 * integration, src/integrations/git/):
 *
 *   - after each version of one of its PRDs (when `pushOnVersion` is on),
 *   - POST /api/integrations/git/push   (admins of the token's
 *     organization): pushes now and answers the outcome.
 *
 * One push per organization at a time: a push asked for while one runs
 * starts again once it ends (the requests that asked for it wait for that
 * one). The outcome enters the activity feed and the integration's status
 * (admins are notified when it turns to error) through the registry's
 * signals, which PrdHubIntegrations reports.
 *
 * A push under way when the organization's git settings are removed or
 * replaced (the registry's "integration-retired") is cancelled at once, so
 * nothing more is sent with the old credentials; the requests that waited
 * for it are answered CANCELLED.
 */
#define G_LOG_DOMAIN "prd-hub-git"

#include "config.h"

#include "prd-error.h"
#include "prd-git-remote.h"
#include "prd-hub-announce.h"

#include "prd-hub-git.h"

struct _PrdHubGit
{
  GObject parent_instance;

  PrdStore *store;                  /* (owned) */
  PrdIntegrationRegistry *registry; /* (owned) */
  char *repo_path;
  GHashTable *orgs; /* org → (owned) OrgPush */
  GCancellable *cancellable;
};

G_DEFINE_FINAL_TYPE (PrdHubGit, prd_hub_git, G_TYPE_OBJECT)

typedef struct
{
  PrdHubGit *self; /* (unowned) a run holds a ref */
  char *org;
  gboolean running;
  gboolean again;            /* another push was asked for while running */
  gboolean again_rest;       /* … by a request (push even without pushOnVersion) */
  GPtrArray *waiters;        /* (element-type SoupServerMessage) of this run */
  GPtrArray *next;           /* (element-type SoupServerMessage) of the next */
  gboolean rest;             /* this run was asked for by a request */
  gboolean retired;          /* this run was cancelled because the settings went */
  GCancellable *cancellable; /* (owned) (nullable): this run's */
  PrdGitRemote *remote;
} OrgPush;

static void
org_push_free (OrgPush *push)
{
  g_free (push->org);
  g_ptr_array_unref (push->waiters);
  g_ptr_array_unref (push->next);
  g_clear_object (&push->remote);
  g_clear_object (&push->cancellable);
  g_free (push);
}

/* Cancels the runs under way (the hub stops). */
static void
cancel_runs (PrdHubGit *self)
{
  GHashTableIter iter;
  gpointer value;

  g_cancellable_cancel (self->cancellable);
  g_hash_table_iter_init (&iter, self->orgs);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (((OrgPush *) value)->cancellable != NULL)
      g_cancellable_cancel (((OrgPush *) value)->cancellable);
}

static void
prd_hub_git_dispose (GObject *object)
{
  PrdHubGit *self = PRD_HUB_GIT (object);

  cancel_runs (self);
  if (self->registry != NULL)
    g_signal_handlers_disconnect_by_data (self->registry, self);
  G_OBJECT_CLASS (prd_hub_git_parent_class)->dispose (object);
}

static void
prd_hub_git_finalize (GObject *object)
{
  PrdHubGit *self = PRD_HUB_GIT (object);

  g_clear_object (&self->store);
  g_clear_object (&self->registry);
  g_free (self->repo_path);
  g_hash_table_unref (self->orgs);
  g_clear_object (&self->cancellable);
  G_OBJECT_CLASS (prd_hub_git_parent_class)->finalize (object);
}

static void
prd_hub_git_class_init (PrdHubGitClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = prd_hub_git_dispose;
  G_OBJECT_CLASS (klass)->finalize = prd_hub_git_finalize;
}

static void
prd_hub_git_init (PrdHubGit *self)
{
  self->orgs =
      g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) org_push_free);
  self->cancellable = g_cancellable_new ();
}

static void
unpause (gpointer msg)
{
  soup_server_message_unpause (msg);
  g_object_unref (msg);
}

static void run_start (OrgPush *push);

/* The run ends: every waiting request has its answer. */
static void
run_end (OrgPush *push, PrdGitPushResult *result, const GError *error)
{
  PrdHubGit *self = push->self;
  g_autoptr (GError) retired = NULL;

  if (push->retired && !g_cancellable_is_cancelled (self->cancellable))
    {
      retired = g_error_new_literal (PRD_ERROR, PRD_ERROR_CANCELLED,
                                     "Git's settings were removed or changed during the push");
      error = retired;
      result = NULL;
    }

  for (guint i = 0; i < push->waiters->len; i++)
    {
      SoupServerMessage *msg = push->waiters->pdata[i];

      if (error != NULL)
        prd_hub_rest_respond_error (msg, error);
      else if (result == NULL)
        prd_hub_rest_respond_error_literal (msg, PRD_ERROR_INTERNAL, "The push did not run");
      else
        {
          JsonObject *object = json_object_new ();
          g_autoptr (JsonNode) node = NULL;

          json_object_set_string_member (object, "service", PRD_GIT_REMOTE_SERVICE);
          json_object_set_string_member (object, "status", "connected");
          json_object_set_string_member (object, "branch", result->branch);
          if (result->commit != NULL)
            json_object_set_string_member (object, "commit", result->commit);
          else
            json_object_set_null_member (object, "commit");
          json_object_set_int_member (object, "tags", result->n_tags);
          json_object_set_int_member (object, "updated", result->n_updated);
          node = prd_hub_object_node (object);
          prd_hub_rest_respond_json (msg, SOUP_STATUS_OK, node);
        }
    }
  g_ptr_array_set_size (push->waiters, 0);
  g_clear_object (&push->remote);
  g_clear_object (&push->cancellable);
  push->running = FALSE;
  push->retired = FALSE;
  if (g_cancellable_is_cancelled (self->cancellable))
    {
      for (guint i = 0; i < push->next->len; i++)
        prd_hub_rest_respond_error_literal (push->next->pdata[i], PRD_ERROR_INTERNAL,
                                            "The hub is stopping");
      g_ptr_array_set_size (push->next, 0);
    }
  else if (push->again)
    run_start (push);
  g_object_unref (self);
}

static void
on_pushed (GObject *source, GAsyncResult *result, gpointer user_data)
{
  OrgPush *push = user_data;
  g_autoptr (PrdGitPushResult) pushed = NULL;
  g_autoptr (GError) error = NULL;

  pushed = prd_git_remote_push_finish (PRD_GIT_REMOTE (source), result, &error);
  if (pushed == NULL && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_info ("git (%s): %s", push->org, error->message);
  run_end (push, pushed, error);
}

static void
on_listed (GObject *source, GAsyncResult *result, gpointer user_data)
{
  OrgPush *push = user_data;
  g_autoptr (GPtrArray) prds = NULL;
  g_autoptr (GPtrArray) ids = g_ptr_array_new ();
  g_autoptr (GError) error = NULL;

  prds = prd_store_list_finish (PRD_STORE (source), result, &error);
  if (prds == NULL)
    {
      run_end (push, NULL, error);
      return;
    }
  for (guint i = 0; i < prds->len; i++)
    g_ptr_array_add (ids, ((PrdStoreInfo *) prds->pdata[i])->id);
  g_ptr_array_add (ids, NULL);
  prd_git_remote_push_async (push->remote, push->self->repo_path, (const char *const *) ids->pdata,
                             push->cancellable, on_pushed, push);
}

static void
on_entry (GObject *source, GAsyncResult *result, gpointer user_data)
{
  OrgPush *push = user_data;
  g_autoptr (PrdIntegrationEntry) entry = NULL;
  g_autoptr (GError) error = NULL;

  entry = prd_integration_registry_get_finish (PRD_INTEGRATION_REGISTRY (source), result, &error);
  if (entry == NULL)
    {
      run_end (push, NULL, error);
      return;
    }
  if (!prd_integration_entry_check_usable (entry, PRD_TYPE_GIT_REMOTE,
                                           "No git remote is configured", &error))
    {
      run_end (push, NULL, error);
      return;
    }
  if (!push->rest && !prd_git_remote_get_push_on_version (PRD_GIT_REMOTE (entry->integration)))
    {
      run_end (push, NULL, NULL);
      return;
    }
  push->remote = g_object_ref (PRD_GIT_REMOTE (entry->integration));
  prd_store_list_async (push->self->store, push->org, push->cancellable, on_listed, push);
}

static void
run_start (OrgPush *push)
{
  GPtrArray *swap = push->waiters;

  push->running = TRUE;
  push->rest = push->again_rest;
  push->again = FALSE;
  push->again_rest = FALSE;
  push->waiters = push->next;
  push->next = swap;
  push->cancellable = g_cancellable_new ();
  g_object_ref (push->self);
  prd_integration_registry_get_async (push->self->registry, push->org, PRD_GIT_REMOTE_SERVICE,
                                      push->cancellable, on_entry, push);
}

/* A push for @org, now or after the one that runs. */
static void
request_push (PrdHubGit *self, const char *org, SoupServerMessage *msg)
{
  OrgPush *push = g_hash_table_lookup (self->orgs, org);

  if (g_cancellable_is_cancelled (self->cancellable))
    {
      if (msg != NULL)
        prd_hub_rest_respond_error_literal (msg, PRD_ERROR_INTERNAL, "The hub is stopping");
      return;
    }
  if (push == NULL)
    {
      push = g_new0 (OrgPush, 1);
      push->self = self;
      push->org = g_strdup (org);
      push->waiters = g_ptr_array_new_with_free_func (unpause);
      push->next = g_ptr_array_new_with_free_func (unpause);
      g_hash_table_insert (self->orgs, push->org, push);
    }
  push->again = TRUE;
  if (msg != NULL)
    {
      push->again_rest = TRUE;
      soup_server_message_pause (msg);
      g_ptr_array_add (push->next, g_object_ref (msg));
    }
  if (!push->running)
    run_start (push);
}

/**
 * prd_hub_git_version_created:
 *
 * A version of one of @org's PRDs was committed: its remote gets it (when
 * `pushOnVersion` is on).
 */
void
prd_hub_git_version_created (PrdHubGit *self, const char *org)
{
  g_return_if_fail (PRD_IS_HUB_GIT (self));

  request_push (self, org, NULL);
}

static void
handle_push (SoupServerMessage *msg,
             const PrdIdentity *identity,
             const char *const *params,
             GHashTable *query,
             gpointer user_data)
{
  PrdHubGit *self = user_data;

  if (identity->role != PRD_ROLE_ADMIN)
    {
      prd_hub_rest_respond_error_literal (msg, PRD_ERROR_FORBIDDEN,
                                          "Only admins of the organization push its versions");
      return;
    }
  request_push (self, identity->org, msg);
}

/* Pushes under way end now (cancelled); the hub stops. */
void
prd_hub_git_shutdown (PrdHubGit *self)
{
  g_return_if_fail (PRD_IS_HUB_GIT (self));

  cancel_runs (self);
}

static void
on_integration_retired (PrdIntegrationRegistry *registry,
                        const char *org,
                        const char *service,
                        gpointer user_data)
{
  PrdHubGit *self = user_data;
  OrgPush *push;

  if (!g_str_equal (service, PRD_GIT_REMOTE_SERVICE))
    return;
  push = g_hash_table_lookup (self->orgs, org);
  if (push == NULL || !push->running || push->cancellable == NULL)
    return;
  g_info ("git (%s): the settings changed under a push: cancelled", org);
  push->retired = TRUE;
  g_cancellable_cancel (push->cancellable);
}

static const PrdHubRouteEntry git_routes[] = {
  { "POST", "/api/integrations/git/push", handle_push },
};

/**
 * prd_hub_git_new:
 * @store: where PRDs live (which belong to an organization)
 * @registry: the integrations ("git" among them)
 * @repo_path: the hub's versions repository
 */
PrdHubGit *
prd_hub_git_new (PrdStore *store, PrdIntegrationRegistry *registry, const char *repo_path)
{
  PrdHubGit *self;

  g_return_val_if_fail (PRD_IS_STORE (store), NULL);
  g_return_val_if_fail (PRD_IS_INTEGRATION_REGISTRY (registry), NULL);
  g_return_val_if_fail (repo_path != NULL, NULL);

  self = g_object_new (PRD_TYPE_HUB_GIT, NULL);
  self->store = g_object_ref (store);
  self->registry = g_object_ref (registry);
  self->repo_path = g_strdup (repo_path);
  g_signal_connect (registry, "integration-retired", G_CALLBACK (on_integration_retired), self);
  return self;
}

void
prd_hub_git_add_routes (PrdHubGit *self, PrdHubRest *rest)
{
  g_return_if_fail (PRD_IS_HUB_GIT (self));

  prd_hub_rest_add_routes (rest, git_routes, G_N_ELEMENTS (git_routes), g_object_ref (self),
                           g_object_unref);
}
