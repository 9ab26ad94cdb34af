/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Jira sync (seed §8.1) on /prds and REST:
 *
 *   jira-sync {prdId, projectKey?, syncType}       (an editor or admin of
 *       the PRD's organization) ack {ok: true, syncId} or an error
 *   POST /api/prds/{id}/jira-sync                   the same body; 202
 *       {ok: true, syncId}
 *   POST /api/integrations/jira/webhook?org=ORG     Jira's webhook, signed
 *       (X-Hub-Signature: sha256=<hex HMAC of the body>), no token
 *
 * The PRD's room hears `jira-sync-start` {prdId, projectKey, syncType},
 * then `jira-sync-complete` {prdId, result: {created, updated, errors,
 * issues, failures}} (and `error` {code, message} when the sync as a whole
 * failed). One sync per PRD at a time (SYNC_IN_PROGRESS). A PRD with more
 * than PRD_JIRA_MAX_STORIES stories is refused (LIMIT_REACHED) before
 * anything is asked of Jira.
 *
 * A sync ends with CANCELLED when the hub stops, or when the organization's
 * Jira settings are removed or replaced meanwhile (the registry's
 * "integration-retired"), or when its PRD is deleted: it writes nothing
 * after that, neither links nor PRD text, so that a removal forgets
 * everything the sync would have kept.
 *
 * An import writes into the PRD as the hub's own site through
 * prd_hub_room_write(), the durable path clients see as content-update.
 * `bidirectional` imports, then exports the result. The item↔issue links
 * are kept in the #PrdIntegrationStore.
 *
 * A webhook delivery for a linked issue whose status changed notifies the
 * PRD's editors (`integration_update`) and enters the activity feed
 * (`jira_issue_updated`); a deleted issue loses its link. A status change
 * sent before the one that last set the link's status (Jira's signed
 * `timestamp`, or when the hub received it if it has none) is
 * `outdated` and changes nothing; a timestamp more than 5 minutes ahead
 * of the hub's clock is refused. Every sync direction reads the links it
 * plans with before it asks Jira anything, and keeps them through
 * prd_integration_store_merge_links_async(), which never undoes a delivery
 * handled while the sync ran; a delivery writes only the status. What a
 * delivery said of an issue no link named is remembered while a sync of
 * its organization runs (Heard): the sync links no issue deleted
 * meanwhile (its result names the story as failed instead of the issue as
 * created), and takes a status delivered after it asked Jira.
 * Deliveries are checked whole first (400 for a status, key or timestamp
 * the hub would not keep), then remembered by their body's digest and
 * handled once; one whose handling fails is forgotten again, so that
 * Jira's retry is handled.
 */
#define G_LOG_DOMAIN "prd-hub-jira"

#include "config.h"

#include <string.h>

#include "prd-error.h"
#include "prd-hub-announce.h"
#include "prd-hub-context.h"
#include "prd-jira.h"
#include "prd-json.h"
#include "prd-log.h"

#include "prd-hub-jira.h"

/* A signed webhook delivery older than this is not handled ("stale"): the
 * hub remembers the deliveries of about that long (see hook_check_age()). */
#define PRD_HUB_JIRA_WEBHOOK_MAX_AGE_MS ((gint64) 24 * 3600 * 1000)

/* A signed webhook delivery dated further ahead of the hub's clock than
 * this is refused (INVALID_PAYLOAD): deliveries are ordered by Jira's own
 * signed times, and one dated ahead outdates the ones sent before it. */
#define PRD_HUB_JIRA_WEBHOOK_MAX_AHEAD_MS ((gint64) 5 * 60 * 1000)

/* The most issues not linked (yet) whose deletion or status the hub
 * remembers for one organization while a sync of it runs (see Heard); the
 * oldest heard is forgotten first. */
#define PRD_HUB_JIRA_MAX_HEARD 10000

struct _PrdHubJira
{
  GObject parent_instance;

  PrdHubRoomRegistry *rooms;        /* (owned) */
  PrdStore *store;                  /* (owned) */
  PrdIntegrationRegistry *registry; /* (owned) */
  PrdIntegrationStore *links;       /* (owned) */
  PrdNotificationStore *feed;       /* (owned) */
  GHashTable *syncs;                /* "<len>:<org><prd id>" → Sync (unowned; removes itself) */
  GHashTable *heard;                /* org → Heard, while a sync of the org runs */
  char *public_url;                 /* (nullable) */
  GCancellable *cancellable;
};

enum
{
  SIGNAL_NOTIFICATIONS_RECORDED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (PrdHubJira, prd_hub_jira, G_TYPE_OBJECT)

/* What webhook deliveries said of issues no link named when they came,
 * remembered while a sync of their organization runs: a sync whose search
 * (or whose adoption of a lost bulk create's issues) ran before such a
 * delivery would otherwise link a deleted issue, or link one with the
 * status it had before. */
typedef struct
{
  char *key;
  gboolean deleted;
  char *status;     /* (nullable) */
  gint64 status_at; /* the delivery's time (ms), as the store orders it */
  gint64 heard_at;  /* monotonic (µs): when the hub handled it */
} HeardIssue;

typedef struct
{
  guint syncs;      /* of the organization, running */
  GHashTable *keys; /* remote key → HeardIssue (owned) */
  GQueue order;     /* (element-type HeardIssue) (unowned): oldest first */
} Heard;

static void
heard_issue_free (HeardIssue *issue)
{
  g_free (issue->key);
  g_free (issue->status);
  g_free (issue);
}

static void
heard_free (Heard *heard)
{
  g_queue_clear (&heard->order);
  g_hash_table_unref (heard->keys);
  g_free (heard);
}

/* A sync of @org starts: deliveries for issues not linked are remembered. */
static void
heard_hold (PrdHubJira *self, const char *org)
{
  Heard *heard = g_hash_table_lookup (self->heard, org);

  if (heard == NULL)
    {
      heard = g_new0 (Heard, 1);
      heard->keys =
          g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) heard_issue_free);
      g_queue_init (&heard->order);
      g_hash_table_insert (self->heard, g_strdup (org), heard);
    }
  heard->syncs++;
}

/* A sync of @org ended: with the last, what was heard is forgotten. */
static void
heard_release (PrdHubJira *self, const char *org)
{
  Heard *heard = self->heard != NULL ? g_hash_table_lookup (self->heard, org) : NULL;

  if (heard != NULL && --heard->syncs == 0)
    g_hash_table_remove (self->heard, org);
}

/* A delivery for @key, linked to no story when it came: @status %NULL for
 * a deletion. Remembered only while a sync of @org runs. */
static void
heard_note (PrdHubJira *self, const char *org, const char *key, const char *status, gint64 at)
{
  Heard *heard = self->heard != NULL ? g_hash_table_lookup (self->heard, org) : NULL;
  HeardIssue *issue;

  if (heard == NULL)
    return;
  issue = g_hash_table_lookup (heard->keys, key);
  if (issue == NULL)
    {
      if (g_hash_table_size (heard->keys) >= PRD_HUB_JIRA_MAX_HEARD)
        {
          HeardIssue *oldest = g_queue_pop_head (&heard->order);

          g_hash_table_remove (heard->keys, oldest->key);
        }
      issue = g_new0 (HeardIssue, 1);
      issue->key = g_strdup (key);
      g_hash_table_insert (heard->keys, issue->key, issue);
      g_queue_push_tail (&heard->order, issue);
    }
  if (status == NULL)
    issue->deleted = TRUE;
  else if (issue->status == NULL || at >= issue->status_at)
    {
      /* Of deliveries for one issue, the one sent last (the same
       * millisecond counts as later, as in the store). */
      g_free (issue->status);
      issue->status = g_strdup (status);
      issue->status_at = at;
      issue->heard_at = g_get_monotonic_time ();
    }
}

static HeardIssue *
heard_lookup (PrdHubJira *self, const char *org, const char *key)
{
  Heard *heard = self->heard != NULL ? g_hash_table_lookup (self->heard, org) : NULL;

  return heard != NULL ? g_hash_table_lookup (heard->keys, key) : NULL;
}

typedef enum
{
  SYNC_EXPORT,
  SYNC_IMPORT,
  SYNC_BIDIRECTIONAL,
} SyncType;

static const char *const sync_types[] = { "export", "import", "bidirectional" };

typedef struct
{
  PrdHubJira *self; /* (owned) */
  char *sync_id;
  char *prd_id;
  char *org;
  char *key;         /* in syncs */
  char *project_key; /* (nullable): the configured one */
  SyncType type;
  char *actor_id;
  char *actor_name;
  char *title;
  PrdJira *jira;             /* (owned) (nullable) */
  GCancellable *cancellable; /* (owned): the hub stops, or Jira's settings went */
  const char *cancelled_why; /* (nullable): the message of the CANCELLED it ends with */
  PrdHubRoom *room;          /* (owned) (nullable): held */
  gulong loaded_id;
  gulong closed_id;
  PrdJiraResult *result;
  GPtrArray *issues; /* (element-type PrdJiraIssue) (nullable) */
  GPtrArray *links;  /* (element-type PrdIntegrationLinkRecord) (nullable): the import's, as
                      * read before its search */
  PrdJiraImportPlan *plan;
  gint64 asked_at; /* monotonic (µs): when the sync last asked Jira for issues (a search,
                    * an export's requests); 0 before */

  /* the request, answered once the sync has started */
  PrdSioSocket *socket; /* (owned) (nullable) */
  gint64 ack_id;
  SoupServerMessage *msg; /* (owned) (nullable) */
  gboolean started;
} Sync;

static void
sync_free (Sync *sync)
{
  if (sync->loaded_id != 0)
    g_signal_handler_disconnect (sync->self->rooms, sync->loaded_id);
  if (sync->closed_id != 0)
    g_signal_handler_disconnect (sync->self->rooms, sync->closed_id);
  if (sync->self->syncs != NULL && g_hash_table_lookup (sync->self->syncs, sync->key) == sync)
    g_hash_table_remove (sync->self->syncs, sync->key);
  heard_release (sync->self, sync->org);
  g_clear_pointer (&sync->room, prd_hub_room_release);
  g_clear_object (&sync->jira);
  g_clear_object (&sync->cancellable);
  g_clear_pointer (&sync->result, prd_jira_result_free);
  g_clear_pointer (&sync->issues, g_ptr_array_unref);
  g_clear_pointer (&sync->links, g_ptr_array_unref);
  g_clear_pointer (&sync->plan, prd_jira_import_plan_free);
  g_clear_object (&sync->socket);
  if (sync->msg != NULL)
    soup_server_message_unpause (sync->msg);
  g_clear_object (&sync->msg);
  g_object_unref (sync->self);
  g_free (sync->sync_id);
  g_free (sync->prd_id);
  g_free (sync->key);
  g_free (sync->org);
  g_free (sync->project_key);
  g_free (sync->actor_id);
  g_free (sync->actor_name);
  g_free (sync->title);
  g_free (sync);
}

static void
prd_hub_jira_dispose (GObject *object)
{
  PrdHubJira *self = PRD_HUB_JIRA (object);

  if (self->registry != NULL)
    g_signal_handlers_disconnect_by_data (self->registry, self);
  g_cancellable_cancel (self->cancellable);
  if (self->syncs != NULL)
    {
      g_autoptr (GList) syncs = g_hash_table_get_values (self->syncs);

      for (GList *l = syncs; l != NULL; l = l->next)
        g_cancellable_cancel (((Sync *) l->data)->cancellable);
    }
  g_clear_pointer (&self->syncs, g_hash_table_unref);
  g_clear_pointer (&self->heard, g_hash_table_unref);
  g_clear_object (&self->rooms);
  g_clear_object (&self->store);
  g_clear_object (&self->registry);
  g_clear_object (&self->links);
  g_clear_object (&self->feed);
  g_clear_object (&self->cancellable);
  g_clear_pointer (&self->public_url, g_free);
  G_OBJECT_CLASS (prd_hub_jira_parent_class)->dispose (object);
}

static void
prd_hub_jira_class_init (PrdHubJiraClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = prd_hub_jira_dispose;

  /**
   * PrdHubJira::notifications-recorded:
   * @announce: (type PrdHubAnnounce): what a webhook delivery announced
   */
  signals[SIGNAL_NOTIFICATIONS_RECORDED] =
      g_signal_new ("notifications-recorded", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                    NULL, NULL, G_TYPE_NONE, 1, PRD_TYPE_HUB_ANNOUNCE | G_SIGNAL_TYPE_STATIC_SCOPE);
}

static void
prd_hub_jira_init (PrdHubJira *self)
{
  self->syncs = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->heard =
      g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) heard_free);
  self->cancellable = g_cancellable_new ();
}

/* ---- answering ---- */

static void
reply_error (Sync *sync, const GError *error)
{
  if (sync->socket != NULL)
    prd_hub_reply_error (sync->socket, sync->ack_id, "jira-sync", sync->prd_id, error);
  else if (sync->msg != NULL)
    prd_hub_rest_respond_error (sync->msg, error);
}

static void
reply_started (Sync *sync)
{
  JsonObject *members = json_object_new ();

  json_object_set_string_member (members, "syncId", sync->sync_id);
  if (sync->socket != NULL)
    {
      prd_hub_reply_ok (sync->socket, sync->ack_id, g_steal_pointer (&members));
    }
  else
    {
      g_autoptr (JsonNode) node = NULL;

      json_object_set_boolean_member (members, "ok", TRUE);
      node = prd_hub_object_node (members);
      members = NULL;
      prd_hub_rest_respond_json (sync->msg, SOUP_STATUS_ACCEPTED, node);
    }
  if (members != NULL)
    json_object_unref (members);
  g_clear_object (&sync->socket);
  if (sync->msg != NULL)
    soup_server_message_unpause (sync->msg);
  g_clear_object (&sync->msg);
}

static JsonArray *
objects_array (GPtrArray *objects)
{
  JsonArray *array = json_array_new ();

  for (guint i = 0; i < objects->len; i++)
    json_array_add_object_element (array, json_object_ref (g_ptr_array_index (objects, i)));
  return array;
}

/* The end of a sync that started: the room hears the outcome. */
static void
sync_complete (Sync *sync, const GError *error)
{
  g_autoptr (JsonNode) node = json_node_new (JSON_NODE_OBJECT);
  JsonObject *payload = json_object_new ();
  JsonObject *result = json_object_new ();
  PrdJiraResult *r = sync->result;

  json_node_take_object (node, payload);
  json_object_set_string_member (payload, "prdId", sync->prd_id);
  json_object_set_int_member (result, "created", r->created);
  json_object_set_int_member (result, "updated", r->updated);
  json_object_set_int_member (result, "errors", r->errors + (error != NULL ? 1 : 0));
  json_object_set_array_member (result, "issues", objects_array (r->issues));
  json_object_set_array_member (result, "failures", objects_array (r->failures));
  json_object_set_object_member (payload, "result", result);
  json_object_set_string_member (payload, "syncId", sync->sync_id);
  if (error != NULL)
    {
      JsonObject *e = json_object_new ();

      json_object_set_string_member (e, "code", prd_error_get_protocol_code (error));
      json_object_set_string_member (e, "message", error->message);
      json_object_set_object_member (payload, "error", e);
    }
  g_info ("jira (%s): %s sync of %s done: %u created, %u updated, %u errors%s%s", sync->org,
          sync_types[sync->type], sync->prd_id, r->created, r->updated,
          r->errors + (error != NULL ? 1 : 0), error != NULL ? ": " : "",
          error != NULL ? error->message : "");
  prd_hub_room_registry_emit (sync->self->rooms, sync->prd_id, "jira-sync-complete", node);
  sync_free (sync);
}

/* A sync that ends before it started answers the request instead. */
static void
sync_fail (Sync *sync, GError *error)
{
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) ||
      g_cancellable_is_cancelled (sync->cancellable))
    {
      g_clear_error (&error);
      error = g_error_new_literal (PRD_ERROR, PRD_ERROR_CANCELLED,
                                   sync->cancelled_why != NULL ? sync->cancelled_why
                                                               : "The hub is stopping");
    }
  if (!sync->started)
    {
      reply_error (sync, error);
      sync_free (sync);
    }
  else
    sync_complete (sync, error);
  g_error_free (error);
}

/* A sync that was cancelled goes no further, whatever its last step
 * brought back: it ends here, before it writes anything. */
static gboolean
sync_stopped (Sync *sync)
{
  if (!g_cancellable_is_cancelled (sync->cancellable))
    return FALSE;
  sync_fail (sync, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, "Cancelled"));
  return TRUE;
}

/* ---- the steps ---- */

static void sync_export (Sync *sync);

static void
on_links_put (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Sync *sync = user_data;
  GError *error = NULL;

  if (!prd_integration_store_merge_links_finish (PRD_INTEGRATION_STORE (source), result, &error))
    {
      sync_fail (sync, error);
      return;
    }
  if (sync_stopped (sync))
    return;
  if (sync->plan != NULL && sync->type == SYNC_BIDIRECTIONAL)
    {
      /* The import is done and kept; now the export. */
      g_clear_pointer (&sync->plan, prd_jira_import_plan_free);
      sync_export (sync);
      return;
    }
  sync_complete (sync, NULL);
}

/* @link, made by the sync, is not kept: its issue was deleted while the
 * sync ran. The result no longer lists the issue nor counts it, and names
 * the story as failed. */
static void
forget_deleted (Sync *sync, PrdIntegrationLinkRecord *link)
{
  PrdJiraResult *r = sync->result;
  g_autofree char *message = NULL;
  JsonObject *failure;

  for (guint i = r->issues->len; i > 0; i--)
    {
      JsonObject *issue = g_ptr_array_index (r->issues, i - 1);

      if (g_strcmp0 (json_object_get_string_member_with_default (issue, "key", NULL),
                     link->remote_key) == 0)
        {
          g_ptr_array_remove_index (r->issues, i - 1);
          /* A link a sync makes is an issue it created or adopted, or an
           * item it added: counted in created. */
          if (r->created > 0)
            r->created--;
        }
    }
  message = g_strdup_printf ("%s was deleted in Jira during the sync: it is not linked, and the "
                             "next export creates the story again",
                             link->remote_key);
  failure = json_object_new ();
  json_object_set_string_member (failure, "title", link->title);
  json_object_set_string_member (failure, "message", message);
  g_ptr_array_add (r->failures, failure);
  r->errors++;
}

/* The links a sync made (not kept yet), as deliveries handled while it ran
 * left them: none to an issue deleted meanwhile, and the status a delivery
 * sent after the sync asked Jira reported. */
static GPtrArray *
links_as_heard (Sync *sync, GPtrArray *links)
{
  GPtrArray *kept =
      g_ptr_array_new_with_free_func ((GDestroyNotify) prd_integration_link_record_free);

  for (guint i = 0; i < links->len; i++)
    {
      PrdIntegrationLinkRecord *link = g_ptr_array_index (links, i);
      HeardIssue *heard =
          link->updated_at == 0 ? heard_lookup (sync->self, sync->org, link->remote_key) : NULL;
      PrdIntegrationLinkRecord *copy;

      if (heard != NULL && heard->deleted)
        {
          g_info ("jira (%s): %s was deleted during the %s sync of %s: not linked", sync->org,
                  link->remote_key, sync_types[sync->type], sync->prd_id);
          forget_deleted (sync, link);
          continue;
        }
      copy = prd_integration_link_record_copy (link);
      if (heard != NULL && heard->status != NULL && heard->heard_at >= sync->asked_at)
        {
          g_free (copy->status);
          copy->status = g_strdup (heard->status);
          copy->status_at = heard->status_at;
        }
      g_ptr_array_add (kept, copy);
    }
  return kept;
}

/* The issues a search found, less those deleted since that no link names
 * (an import would link them again). */
static void
drop_deleted_issues (Sync *sync)
{
  for (guint i = sync->issues->len; i > 0; i--)
    {
      PrdJiraIssue *issue = g_ptr_array_index (sync->issues, i - 1);
      HeardIssue *heard = heard_lookup (sync->self, sync->org, issue->key);
      gboolean linked = FALSE;

      if (heard == NULL || !heard->deleted)
        continue;
      for (guint j = 0; sync->links != NULL && j < sync->links->len && !linked; j++)
        linked = g_str_equal (
            ((PrdIntegrationLinkRecord *) g_ptr_array_index (sync->links, j))->remote_key,
            issue->key);
      if (!linked)
        g_ptr_array_remove_index (sync->issues, i - 1);
    }
}

static void
put_links (Sync *sync, GPtrArray *found)
{
  g_autoptr (GPtrArray) links = NULL;

  if (sync_stopped (sync))
    return;
  links = links_as_heard (sync, found);
  if (links->len == 0)
    {
      /* Nothing to keep: straight on. */
      if (sync->plan != NULL && sync->type == SYNC_BIDIRECTIONAL)
        {
          g_clear_pointer (&sync->plan, prd_jira_import_plan_free);
          sync_export (sync);
        }
      else
        sync_complete (sync, NULL);
      return;
    }
  /* Merged, not put: a link a webhook forgot, or a status it set, after
   * the sync read the links stays so. */
  prd_integration_store_merge_links_async (sync->self->links, links, sync->cancellable,
                                           on_links_put, sync);
}

static void
on_exported (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Sync *sync = user_data;
  g_autoptr (PrdJiraResult) exported = NULL;
  GError *error = NULL;

  exported = prd_jira_export_finish (PRD_JIRA (source), result, &error);
  if (exported == NULL)
    {
      sync_fail (sync, error);
      return;
    }
  if (sync_stopped (sync))
    return;
  prd_jira_result_merge (sync->result, exported);
  put_links (sync, exported->links);
}

static char *
current_text (Sync *sync)
{
  PrdDocument *document = prd_hub_room_get_document (sync->room);

  return prd_crdt_doc_get_text (prd_document_get_crdt (document));
}

static char *
prd_url (Sync *sync)
{
  if (sync->self->public_url == NULL)
    return NULL;
  return g_strdup_printf ("%s/api/prds/%s/export.md", sync->self->public_url, sync->prd_id);
}

static void
on_links_for_export (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Sync *sync = user_data;
  g_autoptr (GPtrArray) links = NULL;
  g_autofree char *text = NULL;
  g_autofree char *url = NULL;
  GError *error = NULL;

  links = prd_integration_store_list_links_finish (PRD_INTEGRATION_STORE (source), result, &error);
  if (links == NULL)
    {
      sync_fail (sync, error);
      return;
    }
  if (sync_stopped (sync))
    return;
  if (!prd_hub_room_is_open (sync->room))
    {
      sync_fail (sync, g_error_new_literal (PRD_ERROR, PRD_ERROR_STORAGE, "The PRD was closed"));
      return;
    }
  text = current_text (sync);
  url = prd_url (sync);
  sync->asked_at = g_get_monotonic_time ();
  prd_jira_export_async (sync->jira, sync->org, sync->prd_id, sync->title, url, sync->project_key,
                         text, links, sync->cancellable, on_exported, sync);
}

static void
sync_export (Sync *sync)
{
  prd_integration_store_list_links_async (sync->self->links, sync->org, PRD_JIRA_SERVICE,
                                          sync->prd_id, sync->cancellable, on_links_for_export,
                                          sync);
}

/* UTF-16 code units in the first @bytes bytes of @text. */
static guint32
utf16_length (const char *text, gsize bytes)
{
  guint32 units = 0;

  for (const char *p = text; p < text + bytes && *p != '\0'; p = g_utf8_next_char (p))
    units += g_utf8_get_char (p) > 0xFFFF ? 2 : 1;
  return units;
}

static gboolean
apply_plan (Sync *sync, guint32 site, GError **error)
{
  g_autofree char *text = current_text (sync);
  gsize len = strlen (text);
  guint32 deleted = 0, inserted = 0;

  /* Applied whole or not at all: an import that would not fit in the PRD
   * is refused before its first deletion is written. */
  for (guint i = 0; i < sync->plan->edits->len; i++)
    {
      PrdJiraEdit *edit = g_ptr_array_index (sync->plan->edits, i);

      if (edit->start <= len && edit->end <= len && edit->start <= edit->end)
        deleted += utf16_length (text + edit->start, edit->end - edit->start);
      inserted += utf16_length (edit->text, strlen (edit->text));
    }
  if (!prd_document_check_growth (prd_hub_room_get_document (sync->room), deleted, inserted, error))
    return FALSE;

  for (guint i = 0; i < sync->plan->edits->len; i++)
    {
      PrdJiraEdit *edit = g_ptr_array_index (sync->plan->edits, i);
      guint32 start, length;

      if (edit->start > len || edit->end > len || edit->end < edit->start)
        {
          g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INTERNAL,
                               "An import edit is out of range");
          return FALSE;
        }
      start = utf16_length (text, edit->start);
      length = utf16_length (text + edit->start, edit->end - edit->start);
      if (length > 0 && !prd_hub_room_write (sync->room, site, PRD_HUB_SITE_USER, sync->actor_id,
                                             sync->actor_name, FALSE, start, NULL, length, error))
        return FALSE;
      if (*edit->text != '\0' &&
          !prd_hub_room_write (sync->room, site, PRD_HUB_SITE_USER, sync->actor_id,
                               sync->actor_name, TRUE, start, edit->text, 0, error))
        return FALSE;
    }
  return TRUE;
}

static void
on_site (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Sync *sync = user_data;
  g_autoptr (PrdStoreSite) site = NULL;
  GError *error = NULL;

  site = prd_store_acquire_site_finish (PRD_STORE (source), result, &error);
  if (site == NULL)
    {
      sync_fail (sync, error);
      return;
    }
  if (sync_stopped (sync))
    return;
  if (!prd_hub_room_is_open (sync->room))
    {
      sync_fail (sync, g_error_new_literal (PRD_ERROR, PRD_ERROR_STORAGE, "The PRD was closed"));
      return;
    }
  prd_document_set_site_owner (prd_hub_room_get_document (sync->room), (guint32) site->site,
                               PRD_HUB_SITE_USER);
  /* The plan is made now, on the text as it is, and applied at once. */
  {
    g_autofree char *text = current_text (sync);

    g_clear_pointer (&sync->plan, prd_jira_import_plan_free);
    drop_deleted_issues (sync);
    sync->plan =
        prd_jira_plan_import (sync->jira, sync->org, sync->prd_id, text, sync->links, sync->issues);
  }
  if (!apply_plan (sync, (guint32) site->site, &error))
    {
      sync_fail (sync, error);
      return;
    }
  prd_jira_result_merge (sync->result, sync->plan->result);
  {
    g_autoptr (GPtrArray) keep = g_ptr_array_ref (sync->plan->result->links);

    put_links (sync, keep);
  }
}

static void
on_searched (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Sync *sync = user_data;
  g_autofree char *text = NULL;
  g_autoptr (GArray) busy = NULL;
  GError *error = NULL;

  sync->issues = prd_jira_search_finish (PRD_JIRA (source), result, &error);
  if (sync->issues == NULL)
    {
      sync_fail (sync, error);
      return;
    }
  if (sync_stopped (sync))
    return;
  if (!prd_hub_room_is_open (sync->room))
    {
      sync_fail (sync, g_error_new_literal (PRD_ERROR, PRD_ERROR_STORAGE, "The PRD was closed"));
      return;
    }
  /* Planned with the links as read before the search: a delivery handled
   * while Jira searched changed the store since, and the merge keeps what
   * it did (a link it forgot is not taken for one never made). */
  text = current_text (sync);
  drop_deleted_issues (sync);
  sync->plan =
      prd_jira_plan_import (sync->jira, sync->org, sync->prd_id, text, sync->links, sync->issues);
  if (sync->plan->edits->len == 0)
    {
      prd_jira_result_merge (sync->result, sync->plan->result);
      put_links (sync, sync->plan->result->links);
      return;
    }
  /* Edits need a site of the hub's own; the plan is made again once it is
   * there, on the text as it is then. */
  busy = prd_hub_room_get_busy_sites (sync->room);
  prd_store_acquire_site_async (sync->self->store, sync->prd_id, PRD_HUB_SITE_USER,
                                (const int *) busy->data, busy->len, sync->cancellable, on_site,
                                sync);
}

/* An import reads the links before it asks Jira anything: the store's
 * merge at its end then sees what a webhook delivery changed meanwhile. */
static void
on_links_for_import (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Sync *sync = user_data;
  GError *error = NULL;

  sync->links =
      prd_integration_store_list_links_finish (PRD_INTEGRATION_STORE (source), result, &error);
  if (sync->links == NULL)
    {
      sync_fail (sync, error);
      return;
    }
  if (sync_stopped (sync))
    return;
  sync->asked_at = g_get_monotonic_time ();
  prd_jira_search_async (sync->jira, sync->prd_id, sync->cancellable, on_searched, sync);
}

static void
sync_run (Sync *sync)
{
  GError *error = NULL;

  if (sync->loaded_id != 0)
    g_clear_signal_handler (&sync->loaded_id, sync->self->rooms);
  if (sync->closed_id != 0)
    g_clear_signal_handler (&sync->closed_id, sync->self->rooms);
  if (sync_stopped (sync))
    return;
  /* A PRD with more stories than a sync takes is refused before anything
   * is asked of Jira (an export checks again, after a bidirectional
   * sync's import). */
  {
    g_autofree char *text = current_text (sync);
    g_autoptr (PrdJiraStories) stories = prd_jira_stories_parse (text, strlen (text));

    if (!prd_jira_stories_check (stories, &error))
      {
        sync_fail (sync, error);
        return;
      }
  }
  if (sync->type == SYNC_EXPORT)
    sync_export (sync);
  else
    prd_integration_store_list_links_async (sync->self->links, sync->org, PRD_JIRA_SERVICE,
                                            sync->prd_id, sync->cancellable, on_links_for_import,
                                            sync);
}

static void
on_room_loaded (PrdHubRoomRegistry *rooms, PrdHubRoom *room, gpointer user_data)
{
  Sync *sync = user_data;

  if (room == sync->room)
    sync_run (sync);
}

static void
on_room_closed (PrdHubRoomRegistry *rooms, const char *prd_id, gpointer user_data)
{
  Sync *sync = user_data;

  if (g_str_equal (prd_id, sync->prd_id))
    sync_fail (sync, g_error_new (PRD_ERROR, PRD_ERROR_STORAGE, "The PRD %s could not be opened",
                                  sync->prd_id));
}

static void
sync_begin (Sync *sync)
{
  g_autoptr (JsonNode) node = json_node_new (JSON_NODE_OBJECT);
  JsonObject *payload = json_object_new ();
  GError *error = NULL;
  PrdHubRoom *room;

  room = prd_hub_room_registry_open (sync->self->rooms, sync->prd_id);
  if (!prd_hub_room_hold (room, &error))
    {
      sync_fail (sync, error);
      return;
    }
  sync->room = room;
  sync->started = TRUE;
  reply_started (sync);
  json_node_take_object (node, payload);
  json_object_set_string_member (payload, "prdId", sync->prd_id);
  json_object_set_string_member (payload, "projectKey",
                                 sync->project_key != NULL ? sync->project_key
                                                           : prd_jira_get_project_key (sync->jira));
  json_object_set_string_member (payload, "syncType", sync_types[sync->type]);
  json_object_set_string_member (payload, "syncId", sync->sync_id);
  prd_hub_room_registry_emit (sync->self->rooms, sync->prd_id, "jira-sync-start", node);
  g_info ("jira (%s): %s sync of %s started by %s", sync->org, sync_types[sync->type], sync->prd_id,
          sync->actor_id);
  if (prd_hub_room_get_members (room) != NULL)
    {
      sync_run (sync);
      return;
    }
  sync->loaded_id =
      g_signal_connect (sync->self->rooms, "room-loaded", G_CALLBACK (on_room_loaded), sync);
  sync->closed_id =
      g_signal_connect (sync->self->rooms, "room-closed", G_CALLBACK (on_room_closed), sync);
}

static void
on_configuration (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Sync *sync = user_data;
  g_autoptr (PrdIntegrationEntry) entry = NULL;
  GError *error = NULL;

  entry = prd_integration_registry_get_finish (PRD_INTEGRATION_REGISTRY (source), result, &error);
  if (entry == NULL)
    {
      sync_fail (sync, error);
      return;
    }
  if (!prd_integration_entry_check_usable (entry, PRD_TYPE_INTEGRATION,
                                           "Jira is not configured for this organization", &error))
    {
      sync_fail (sync, error);
      return;
    }
  sync->jira = PRD_JIRA (g_object_ref (entry->integration));
  sync_begin (sync);
}

static void
on_prd (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Sync *sync = user_data;
  g_autoptr (PrdStoreInfo) info = NULL;
  GError *error = NULL;

  info = prd_store_get_finish (PRD_STORE (source), result, &error);
  if (info != NULL && !g_str_equal (info->org, sync->org))
    {
      g_clear_pointer (&info, prd_store_info_free);
      error = prd_error_new_prd_not_found (sync->prd_id);
    }
  if (info == NULL)
    {
      sync_fail (sync, error);
      return;
    }
  sync->title = g_strdup (info->title);
  prd_integration_registry_get_async (sync->self->registry, sync->org, PRD_JIRA_SERVICE,
                                      sync->cancellable, on_configuration, sync);
}

/* Checks a request's body; the sync is queued or refused. Returns the new
 * sync, or %NULL with @error set. */
static Sync *
sync_new (PrdHubJira *self,
          const PrdIdentity *identity,
          const char *prd_id,
          JsonObject *body,
          GError **error)
{
  const char *type_text = NULL, *project_key = NULL;
  Sync *sync;
  int type = -1;
  g_autofree char *key = NULL;

  if (identity->role == PRD_ROLE_VIEWER)
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_FORBIDDEN,
                           "Viewers cannot sync a PRD with Jira");
      return NULL;
    }
  if (!prd_hub_json_get_optional_string (body, "projectKey", &project_key, error))
    return NULL;
  if (project_key != NULL && !g_regex_match_simple ("^[A-Z][A-Z0-9_]{1,63}$", project_key, 0, 0))
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
                           "projectKey must be a Jira project key (PROJ)");
      return NULL;
    }
  type_text = prd_hub_json_get_string (body, "syncType", error);
  if (type_text == NULL)
    return NULL;
  for (guint i = 0; i < G_N_ELEMENTS (sync_types); i++)
    if (g_str_equal (type_text, sync_types[i]))
      type = (int) i;
  if (type < 0)
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
                           "syncType must be export, import or bidirectional");
      return NULL;
    }
  /* Per organization: a sync of somebody else's PRD (the same id) must
   * not show through; asking for it fails as for any unknown PRD. */
  key = g_strdup_printf ("%zu:%s%s", strlen (identity->org), identity->org, prd_id);
  if (g_hash_table_contains (self->syncs, key))
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_SYNC_IN_PROGRESS, "A Jira sync of %s is under way",
                   prd_id);
      return NULL;
    }
  sync = g_new0 (Sync, 1);
  sync->self = g_object_ref (self);
  sync->sync_id = prd_hub_new_id ("sync_");
  sync->prd_id = g_strdup (prd_id);
  sync->org = g_strdup (identity->org);
  sync->key = g_strdup (key);
  sync->project_key = g_strdup (project_key);
  sync->type = (SyncType) type;
  sync->actor_id = g_strdup (identity->user_id);
  sync->actor_name = g_strdup (identity->name);
  sync->result = prd_jira_result_new ();
  sync->cancellable = g_cancellable_new ();
  sync->ack_id = -1;
  g_hash_table_insert (self->syncs, g_steal_pointer (&key), sync);
  heard_hold (self, sync->org);
  return sync;
}

static void
on_jira_sync (PrdSioSocket *socket,
              const char *event,
              JsonArray *args,
              GPtrArray *attachments,
              gint64 ack_id,
              gpointer user_data)
{
  PrdHubJira *self = user_data;
  const PrdIdentity *identity = prd_hub_socket_get_identity (socket);
  g_autoptr (GError) error = NULL;
  const char *prd_id;
  JsonObject *body;
  Sync *sync;

  body = prd_hub_payload_get_prd (socket, event, args, ack_id, &prd_id);
  if (body == NULL)
    return;
  sync = sync_new (self, identity, prd_id, body, &error);
  if (sync == NULL)
    {
      prd_hub_reply_error (socket, ack_id, event, prd_id, error);
      return;
    }
  sync->socket = g_object_ref (socket);
  sync->ack_id = ack_id;
  prd_store_get_async (self->store, prd_id, sync->cancellable, on_prd, sync);
}

static const PrdHubEventEntry events[] = {
  { "jira-sync", on_jira_sync },
};

/* ---- REST ---- */

static void
handle_sync (SoupServerMessage *msg,
             const PrdIdentity *identity,
             const char *const *params,
             GHashTable *query,
             gpointer user_data)
{
  PrdHubJira *self = user_data;
  SoupMessageBody *body = soup_server_message_get_request_body (msg);
  g_autoptr (GBytes) bytes = soup_message_body_flatten (body);
  g_autoptr (JsonNode) node = NULL;
  g_autoptr (GError) error = NULL;
  Sync *sync;

  node =
      prd_json_parse (g_bytes_get_data (bytes, NULL), (gssize) g_bytes_get_size (bytes), 0, &error);
  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    {
      prd_hub_rest_respond_error_literal (msg, PRD_ERROR_INVALID_PAYLOAD,
                                          "The body must be a JSON object {syncType, projectKey?}");
      return;
    }
  sync = sync_new (self, identity, params[0], json_node_get_object (node), &error);
  if (sync == NULL)
    {
      prd_hub_rest_respond_error (msg, error);
      return;
    }
  sync->msg = g_object_ref (msg);
  soup_server_message_pause (msg);
  prd_store_get_async (self->store, params[0], sync->cancellable, on_prd, sync);
}

/* ---- webhook ---- */

typedef struct
{
  PrdHubJira *self;       /* (owned) */
  SoupServerMessage *msg; /* (owned) */
  char *org;
  char *signature; /* (nullable) */
  char *delivery;  /* (nullable) */
  GBytes *body;    /* (owned) */
  JsonNode *json;  /* (owned) (nullable): the body, read once it is known genuine */
  PrdIntegrationEntry *entry;
  char *event;
  char *key;
  char *status;   /* (nullable): the new status */
  gint64 sent_at; /* when Jira sent it (ms): its signed timestamp, or when it came if
                   * it has none (see hook_check_age()) */
  PrdIntegrationLinkRecord *link;
  char *prd_title;          /* (nullable): the linked PRD's, for the activity feed */
  PrdHubAnnounce *announce; /* (owned) (nullable): what a status change announces */
  char *seen_as;            /* the body's digest, as the store remembers the delivery */
  gboolean recorded;        /* the store remembers it (to be forgotten if handling fails) */
  gboolean ignored;         /* an event the hub does not handle */
  GError *error;            /* (owned) (nullable): the failure, once the delivery is forgotten */
} Hook;

static void
hook_free (Hook *hook)
{
  soup_server_message_unpause (hook->msg);
  g_object_unref (hook->msg);
  g_object_unref (hook->self);
  g_free (hook->org);
  g_free (hook->signature);
  g_free (hook->delivery);
  g_bytes_unref (hook->body);
  g_clear_pointer (&hook->json, json_node_unref);
  g_clear_pointer (&hook->entry, prd_integration_entry_free);
  g_free (hook->event);
  g_free (hook->key);
  g_free (hook->status);
  g_clear_pointer (&hook->link, prd_integration_link_record_free);
  g_free (hook->prd_title);
  g_clear_pointer (&hook->announce, prd_hub_announce_unref);
  g_free (hook->seen_as);
  g_clear_error (&hook->error);
  g_free (hook);
}

static void
hook_answer (Hook *hook, const char *outcome)
{
  g_autoptr (JsonNode) node = NULL;
  JsonObject *object = json_object_new ();

  json_object_set_boolean_member (object, "ok", TRUE);
  json_object_set_string_member (object, "outcome", outcome);
  node = prd_hub_object_node (object);
  prd_hub_rest_respond_json (hook->msg, SOUP_STATUS_OK, node);
  g_info ("jira (%s): webhook %s for %s (delivery %s): %s", hook->org,
          hook->event != NULL ? hook->event : "?", hook->key != NULL ? hook->key : "?",
          hook->delivery != NULL ? hook->delivery : "without an identifier", outcome);
  hook_free (hook);
}

static void hook_fail (Hook *hook, GError *error);

static void
on_hook_forgotten (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Hook *hook = user_data;
  g_autoptr (GError) error = NULL;

  if (!prd_integration_store_forget_delivery_finish (PRD_INTEGRATION_STORE (source), result,
                                                     &error))
    g_warning ("Cannot forget a Jira webhook delivery whose handling failed (its retry will be a "
               "duplicate): %s",
               error->message);
  hook_fail (hook, g_steal_pointer (&hook->error));
}

/* Answers @hook with @error (taken). A delivery the store remembers already
 * is forgotten first: it was not handled, and Jira's retry must be. */
static void
hook_fail (Hook *hook, GError *error)
{
  static PrdLogThrottle refusals =
      PRD_LOG_THROTTLE_INIT (G_LOG_LEVEL_INFO, "jira: webhook refused", "refusals");

  if (hook->recorded)
    {
      hook->recorded = FALSE;
      hook->error = error;
      prd_integration_store_forget_delivery_async (hook->self->links, hook->org, PRD_JIRA_SERVICE,
                                                   hook->seen_as, NULL, on_hook_forgotten, hook);
      return;
    }
  prd_hub_rest_respond_error (hook->msg, error);
  /* Anyone can post to the webhook's URL. */
  if (prd_log_throttle_admit (&refusals))
    g_info ("jira (%s): webhook refused: %s", hook->org, error->message);
  g_error_free (error);
  hook_free (hook);
}

/* Constant time in the length of @expected. */
static gboolean
signature_matches (const char *given, const char *expected)
{
  gsize n = strlen (expected);
  guint8 diff = 0;

  if (given == NULL || strlen (given) != n)
    return FALSE;
  for (gsize i = 0; i < n; i++)
    diff |= (guint8) (g_ascii_tolower (given[i]) ^ expected[i]);
  return diff == 0;
}

static void
on_hook_recorded (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Hook *hook = user_data;
  g_autoptr (GError) error = NULL;

  if (!prd_notification_store_record_finish (PRD_NOTIFICATION_STORE (source), result, &error))
    g_warning ("Cannot record a Jira status change: %s", error->message);
  else
    g_signal_emit (hook->self, signals[SIGNAL_NOTIFICATIONS_RECORDED], 0, hook->announce);
  hook_answer (hook, "status-changed");
}

static void
on_editors (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Hook *hook = user_data;
  g_autoptr (GPtrArray) sites = NULL;
  g_autoptr (PrdHubAnnounce) announce = prd_hub_announce_new (hook->org);
  g_autofree char *message = NULL;
  JsonObject *object;

  sites = prd_store_list_sites_finish (PRD_STORE (source), result, NULL);
  message = g_strdup_printf ("%s \"%s\" is now %s", hook->key, hook->link->title, hook->status);
  for (guint i = 0; sites != NULL && i < sites->len; i++)
    {
      PrdStoreSite *site = g_ptr_array_index (sites, i);
      JsonObject *data = json_object_new ();

      if (g_str_equal (site->user_id, PRD_HUB_SITE_USER) || g_str_equal (site->user_id, "ai"))
        continue;
      json_object_set_string_member (data, "service", PRD_JIRA_SERVICE);
      json_object_set_string_member (data, "prdId", hook->link->prd_id);
      json_object_set_string_member (data, "issueKey", hook->key);
      json_object_set_string_member (data, "status", hook->status);
      if (hook->link->url != NULL)
        json_object_set_string_member (data, "url", hook->link->url);
      prd_hub_announce_notify (announce, site->user_id,
                               prd_hub_notification_new ("integration_update",
                                                         "Jira issue status changed", message,
                                                         data));
    }
  object = prd_hub_prd_object_new (hook->link->prd_id, hook->prd_title);
  json_object_set_string_member (object, "issueKey", hook->key);
  json_object_set_string_member (object, "status", hook->status);
  prd_hub_announce_activity (
      announce, prd_hub_activity_new ("jira_issue_updated", PRD_JIRA_SERVICE, "Jira", object));
  hook->announce = prd_hub_announce_ref (announce);
  prd_notification_store_record_async (hook->self->feed, announce->notification_records,
                                       announce->activity_records, hook->self->cancellable,
                                       on_hook_recorded, hook);
}

static void
on_hook_prd (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Hook *hook = user_data;
  g_autoptr (PrdStoreInfo) info = NULL;
  g_autoptr (GError) error = NULL;

  info = prd_store_get_finish (PRD_STORE (source), result, &error);
  if (info == NULL)
    {
      /* Deleted since (its links with it): nobody is told of its issue. */
      if (!g_error_matches (error, PRD_ERROR, PRD_ERROR_PRD_NOT_FOUND))
        g_warning ("Cannot read the PRD of a Jira status change: %s", error->message);
      hook_answer (hook, "status-changed");
      return;
    }
  hook->prd_title = g_strdup (info->title);
  prd_store_list_sites_async (hook->self->store, hook->link->prd_id, hook->self->cancellable,
                              on_editors, hook);
}

static void
on_link_changed (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Hook *hook = user_data;
  PrdIntegrationLinkStatusOutcome outcome = PRD_INTEGRATION_LINK_STATUS_CHANGED;
  GError *error = NULL;
  gboolean ok;

  if (g_str_equal (hook->event, "jira:issue_deleted"))
    ok = prd_integration_store_delete_link_finish (PRD_INTEGRATION_STORE (source), result, NULL,
                                                   &error);
  else
    ok = prd_integration_store_set_link_status_finish (PRD_INTEGRATION_STORE (source), result,
                                                       &outcome, &error);
  if (!ok)
    {
      hook_fail (hook, error);
      return;
    }
  if (g_str_equal (hook->event, "jira:issue_deleted"))
    {
      /* A sync under way may have found it still there. */
      heard_note (hook->self, hook->org, hook->key, NULL, hook->sent_at);
      hook_answer (hook, "unlinked");
      return;
    }
  switch (outcome)
    {
      case PRD_INTEGRATION_LINK_STATUS_NOT_LINKED:
        /* Forgotten since it was read (the issue was deleted). */
        heard_note (hook->self, hook->org, hook->key, hook->status, hook->sent_at);
        hook_answer (hook, "not-linked");
        return;
      case PRD_INTEGRATION_LINK_STATUS_UNCHANGED:
        hook_answer (hook, "unchanged");
        return;
      case PRD_INTEGRATION_LINK_STATUS_OUTDATED:
        /* Jira sent a newer delivery for the issue, handled already. */
        hook_answer (hook, "outdated");
        return;
      case PRD_INTEGRATION_LINK_STATUS_CHANGED:
      default:
        break;
    }
  /* The activity names the PRD by its own title, not the story's. */
  prd_store_get_async (hook->self->store, hook->link->prd_id, hook->self->cancellable, on_hook_prd,
                       hook);
}

static void
on_hook_links (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Hook *hook = user_data;
  g_autoptr (GPtrArray) links = NULL;
  GError *error = NULL;

  links = prd_integration_store_list_links_finish (PRD_INTEGRATION_STORE (source), result, &error);
  if (links == NULL)
    {
      hook_fail (hook, error);
      return;
    }
  for (guint i = 0; i < links->len && hook->link == NULL; i++)
    {
      PrdIntegrationLinkRecord *link = g_ptr_array_index (links, i);

      if (g_str_equal (link->remote_key, hook->key))
        hook->link = prd_integration_link_record_copy (link);
    }
  if (hook->link == NULL)
    {
      /* A sync under way may be about to link it. */
      if (g_str_equal (hook->event, "jira:issue_deleted") || hook->status != NULL)
        heard_note (hook->self, hook->org, hook->key, hook->status, hook->sent_at);
      hook_answer (hook, "not-linked");
      return;
    }
  if (g_str_equal (hook->event, "jira:issue_deleted"))
    {
      prd_integration_store_delete_link_async (hook->self->links, hook->org, PRD_JIRA_SERVICE,
                                               hook->key, hook->self->cancellable, on_link_changed,
                                               hook);
      return;
    }
  if (hook->status == NULL)
    {
      hook_answer (hook, "unchanged");
      return;
    }
  /* Only the status, and only if no newer delivery set it: whatever a
   * sync wrote into the link meanwhile stays. */
  prd_integration_store_set_link_status_async (hook->self->links, hook->org, PRD_JIRA_SERVICE,
                                               hook->key, hook->status, hook->sent_at,
                                               hook->self->cancellable, on_link_changed, hook);
}

static const char *
member_string (JsonObject *object, const char *name)
{
  return prd_integration_json_text (object != NULL ? json_object_get_member (object, name) : NULL);
}

static JsonObject *
member_object (JsonObject *object, const char *name)
{
  JsonNode *node = object != NULL ? json_object_get_member (object, name) : NULL;

  return node != NULL && JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
}

/* Whether @object's member @name is absent, null (Jira's word for an empty
 * value) or of @type (JSON_NODE_OBJECT, or a value of G_TYPE_STRING). */
static gboolean
member_is_absent_or (JsonObject *object, const char *name, GType type)
{
  JsonNode *node = object != NULL ? json_object_get_member (object, name) : NULL;

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (type == JSON_TYPE_OBJECT)
    return JSON_NODE_HOLDS_OBJECT (node);
  return JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == type;
}

/* A status as Jira names one ("In Progress"): the link, the activity feed
 * and every editor's notification keep it. */
#define PRD_HUB_JIRA_MAX_STATUS_LENGTH 255

static gboolean
status_is_valid (const char *status)
{
  if (status == NULL || *status == '\0' || strlen (status) > 4 * PRD_HUB_JIRA_MAX_STATUS_LENGTH ||
      !g_utf8_validate (status, -1, NULL) ||
      g_utf8_strlen (status, -1) > PRD_HUB_JIRA_MAX_STATUS_LENGTH)
    return FALSE;
  for (const char *p = status; *p != '\0'; p = g_utf8_next_char (p))
    if (g_unichar_iscntrl (g_utf8_get_char (p)))
      return FALSE;
  return TRUE;
}

/* A signed delivery older than the deliveries the hub remembers could be
 * one it handled and forgot: its `timestamp` (milliseconds, signed with
 * the rest), when it has one, must be recent. Jira retries within hours.
 * The store remembers an organization's newest
 * PRD_INTEGRATION_STORE_MAX_DELIVERIES, more than a day of any LAN hub's
 * deliveries. A timestamp that is not a whole number of milliseconds
 * (a string, a fraction, beyond 64 bits) is refused, and so is one more
 * than PRD_HUB_JIRA_WEBHOOK_MAX_AHEAD_MS ahead of the hub's clock.
 * @sent_at is the time the delivery is ordered by
 * (prd_integration_store_set_link_status_async()): its timestamp, Jira's
 * own clock, or when it came if it has none. Comparing it with the hub's
 * clock would let an older delivery arriving later win over a newer one
 * whenever Jira's clock runs ahead. */
static gboolean
hook_check_age (JsonObject *body, gboolean *stale, gint64 *sent_at, GError **error)
{
  JsonNode *timestamp = json_object_get_member (body, "timestamp");
  gint64 now_ms = g_get_real_time () / 1000;
  gint64 sent_ms;

  *stale = FALSE;
  *sent_at = now_ms;
  if (timestamp == NULL)
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (timestamp) || json_node_get_value_type (timestamp) != G_TYPE_INT64 ||
      (sent_ms = json_node_get_int (timestamp)) < 0)
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
                           "timestamp must be a whole number of milliseconds since the Unix "
                           "epoch");
      return FALSE;
    }
  /* A delivery dated further ahead (a clock set wrong, or a date signed
   * with the secret) could freeze the issue's status until then. */
  if (sent_ms > now_ms + PRD_HUB_JIRA_WEBHOOK_MAX_AHEAD_MS)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
                   "timestamp must not be more than %d minutes ahead of the hub's clock",
                   (int) (PRD_HUB_JIRA_WEBHOOK_MAX_AHEAD_MS / 60000));
      return FALSE;
    }
  *stale = sent_ms < now_ms - PRD_HUB_JIRA_WEBHOOK_MAX_AGE_MS;
  *sent_at = sent_ms;
  return TRUE;
}

/* The delivery is genuine: what does it say? Everything it would make the
 * hub keep is checked here, before the delivery is recorded. */
static gboolean
hook_read (Hook *hook, gboolean *stale, GError **error)
{
  JsonObject *body, *issue, *fields, *changelog;
  JsonNode *items;
  const char *key;
  gboolean status_typed = TRUE;

  body = hook->json != NULL && JSON_NODE_HOLDS_OBJECT (hook->json)
             ? json_node_get_object (hook->json)
             : NULL;
  if (body == NULL || member_string (body, "webhookEvent") == NULL)
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
                           "The body must be a Jira webhook event");
      return FALSE;
    }
  if (!hook_check_age (body, stale, &hook->sent_at, error))
    return FALSE;
  hook->event = g_strdup (member_string (body, "webhookEvent"));
  issue = member_object (body, "issue");
  key = member_string (issue, "key");
  /* Logged: only a key that is one. */
  hook->key = prd_jira_key_is_valid (key) ? g_strdup (key) : NULL;
  if (!g_str_equal (hook->event, "jira:issue_updated") &&
      !g_str_equal (hook->event, "jira:issue_deleted"))
    {
      hook->ignored = TRUE;
      return TRUE;
    }
  if (hook->key == NULL)
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
                           "The event names no valid issue key");
      return FALSE;
    }
  if (g_str_equal (hook->event, "jira:issue_deleted"))
    return TRUE;
  /* A status that is there but not text is not one to keep, nor a
   * missing one: the delivery is refused as a bad status is. */
  fields = member_object (issue, "fields");
  if (!member_is_absent_or (fields, "status", JSON_TYPE_OBJECT) ||
      !member_is_absent_or (member_object (fields, "status"), "name", G_TYPE_STRING))
    status_typed = FALSE;
  changelog = member_object (body, "changelog");
  items = changelog != NULL ? json_object_get_member (changelog, "items") : NULL;
  for (guint i = 0; items != NULL && JSON_NODE_HOLDS_ARRAY (items) &&
                    i < json_array_get_length (json_node_get_array (items));
       i++)
    {
      JsonNode *item = json_array_get_element (json_node_get_array (items), i);
      JsonObject *change = JSON_NODE_HOLDS_OBJECT (item) ? json_node_get_object (item) : NULL;

      if (g_strcmp0 (member_string (change, "field"), "status") == 0 &&
          !member_is_absent_or (change, "toString", G_TYPE_STRING))
        status_typed = FALSE;
      if (g_strcmp0 (member_string (change, "field"), "status") == 0 &&
          member_string (change, "toString") != NULL)
        {
          g_free (hook->status);
          hook->status = g_strdup (member_string (change, "toString"));
        }
    }
  if (hook->status == NULL)
    hook->status = g_strdup (member_string (member_object (fields, "status"), "name"));
  if (!status_typed || (hook->status != NULL && !status_is_valid (hook->status)))
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
                   "The issue's status must be 1 to %d characters, without control characters",
                   PRD_HUB_JIRA_MAX_STATUS_LENGTH);
      return FALSE;
    }
  return TRUE;
}

static void
on_delivery_recorded (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Hook *hook = user_data;
  GError *error = NULL;

  if (!prd_integration_store_record_delivery_finish (PRD_INTEGRATION_STORE (source), result,
                                                     &error))
    {
      if (g_error_matches (error, PRD_ERROR, PRD_ERROR_ALREADY_EXISTS))
        {
          g_error_free (error);
          hook_answer (hook, "duplicate");
          return;
        }
      hook_fail (hook, error);
      return;
    }
  hook->recorded = TRUE;
  if (hook->ignored)
    {
      hook_answer (hook, "ignored");
      return;
    }
  prd_integration_store_list_links_async (hook->self->links, hook->org, PRD_JIRA_SERVICE, NULL,
                                          hook->self->cancellable, on_hook_links, hook);
}

static void
on_hook_configuration (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Hook *hook = user_data;
  g_autofree char *expected = NULL;
  g_autofree char *digest = NULL;
  gboolean stale = FALSE;
  const char *secret;
  GError *error = NULL;

  hook->entry =
      prd_integration_registry_get_finish (PRD_INTEGRATION_REGISTRY (source), result, &error);
  if (hook->entry == NULL)
    {
      hook_fail (hook, error);
      return;
    }
  secret = hook->entry->integration != NULL
               ? prd_jira_get_webhook_secret (PRD_JIRA (hook->entry->integration))
               : NULL;
  if (secret != NULL)
    {
      g_autoptr (GBytes) key = g_bytes_new (secret, strlen (secret));
      g_autofree char *hex = g_compute_hmac_for_bytes (G_CHECKSUM_SHA256, key, hook->body);

      expected = g_strconcat ("sha256=", hex, NULL);
    }
  /* Without a secret no delivery can be told genuine: all are refused. */
  if (expected == NULL || !signature_matches (hook->signature, expected))
    {
      hook_fail (hook, g_error_new_literal (PRD_ERROR, PRD_ERROR_AUTHENTICATION_FAILED,
                                            "The webhook signature is missing or wrong"));
      return;
    }
  hook->json = prd_json_parse (g_bytes_get_data (hook->body, NULL),
                               (gssize) g_bytes_get_size (hook->body), 0, NULL);
  if (!hook_read (hook, &stale, &error))
    {
      hook_fail (hook, error);
      return;
    }
  if (stale)
    {
      hook_answer (hook, "stale");
      return;
    }
  /* Handled once: a retry sends the same body, and so does a replay, under
   * whatever X-Atlassian-Webhook-Identifier (which is not signed). Recorded
   * before it is handled, so that a copy arriving meanwhile is a duplicate;
   * forgotten again if handling fails (hook_fail()). */
  digest = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, hook->body);
  hook->seen_as = g_strconcat ("sha256:", digest, NULL);
  prd_integration_store_record_delivery_async (hook->self->links, hook->org, PRD_JIRA_SERVICE,
                                               hook->seen_as, hook->self->cancellable,
                                               on_delivery_recorded, hook);
}

static void
handle_webhook (SoupServerMessage *msg,
                const PrdIdentity *identity,
                const char *const *params,
                GHashTable *query,
                gpointer user_data)
{
  PrdHubJira *self = user_data;
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  const char *org = query != NULL ? g_hash_table_lookup (query, "org") : NULL;
  const char *delivery = soup_message_headers_get_one (headers, "X-Atlassian-Webhook-Identifier");
  g_autoptr (GError) error = NULL;
  Hook *hook;

  if (org == NULL || !prd_integration_store_check_org (org, &error))
    {
      prd_hub_rest_respond_error_literal (msg, PRD_ERROR_INVALID_PAYLOAD,
                                          "The webhook URL needs ?org=<organization id>");
      return;
    }
  if (delivery != NULL && (strlen (delivery) == 0 || strlen (delivery) > 255))
    {
      prd_hub_rest_respond_error_literal (msg, PRD_ERROR_INVALID_PAYLOAD,
                                          "X-Atlassian-Webhook-Identifier is 1 to 255 bytes");
      return;
    }
  hook = g_new0 (Hook, 1);
  hook->self = g_object_ref (self);
  hook->msg = g_object_ref (msg);
  hook->org = g_strdup (org);
  hook->signature = g_strdup (soup_message_headers_get_one (headers, "X-Hub-Signature"));
  hook->delivery = g_strdup (delivery);
  hook->body = soup_message_body_flatten (soup_server_message_get_request_body (msg));
  soup_server_message_pause (msg);
  prd_integration_registry_get_async (self->registry, org, PRD_JIRA_SERVICE, self->cancellable,
                                      on_hook_configuration, hook);
}

static const PrdHubRouteEntry jira_routes[] = {
  { "POST", "/api/prds/{prd}/jira-sync", handle_sync, PRD_HUB_ROUTE_READS_BODY },
  { "POST", "/api/integrations/jira/webhook", handle_webhook,
    PRD_HUB_ROUTE_READS_BODY | PRD_HUB_ROUTE_NO_TOKEN },
};

/* ---- object ---- */

/* The organization's Jira settings are being removed or were replaced: its
 * syncs that already work with the old integration end (CANCELLED) and
 * write nothing more. A sync still reading the settings gets the new ones
 * (or none). */
static void
on_integration_retired (PrdIntegrationRegistry *registry,
                        const char *org,
                        const char *service,
                        gpointer user_data)
{
  PrdHubJira *self = user_data;
  g_autoptr (GList) syncs = NULL;

  if (!g_str_equal (service, PRD_JIRA_SERVICE) || self->syncs == NULL)
    return;
  syncs = g_hash_table_get_values (self->syncs);
  for (GList *l = syncs; l != NULL; l = l->next)
    {
      Sync *sync = l->data;

      if (sync->jira == NULL || !g_str_equal (sync->org, org))
        continue;
      g_info ("jira (%s): the settings changed under the %s sync of %s: cancelled", org,
              sync_types[sync->type], sync->prd_id);
      sync->cancelled_why = "Jira's settings were removed or changed during the sync";
      g_cancellable_cancel (sync->cancellable);
    }
}

/**
 * prd_hub_jira_new:
 * @rooms: the rooms of /prds (the events are registered on its namespace)
 * @store: where PRDs live
 * @registry: the integrations (Jira among them)
 * @feed: where notifications and the activity feed are kept
 */
PrdHubJira *
prd_hub_jira_new (PrdHubRoomRegistry *rooms,
                  PrdStore *store,
                  PrdIntegrationRegistry *registry,
                  PrdNotificationStore *feed)
{
  PrdHubJira *self;
  PrdSioNamespace *nsp = prd_hub_room_registry_get_namespace (rooms);

  self = g_object_new (PRD_TYPE_HUB_JIRA, NULL);
  self->rooms = g_object_ref (rooms);
  self->store = g_object_ref (store);
  self->registry = g_object_ref (registry);
  self->links = g_object_ref (prd_integration_registry_get_store (registry));
  self->feed = g_object_ref (feed);
  g_signal_connect (registry, "integration-retired", G_CALLBACK (on_integration_retired), self);
  if (nsp != NULL)
    prd_hub_add_events (nsp, events, G_N_ELEMENTS (events), self);
  return self;
}

static void
on_prd_links_deleted (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autofree char *prd_id = user_data;
  g_autoptr (GError) error = NULL;

  if (!prd_integration_store_delete_prd_links_finish (PRD_INTEGRATION_STORE (source), result,
                                                      &error) &&
      !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_warning ("Cannot forget the Jira links of %s: %s", prd_id, error->message);
}

/**
 * prd_hub_jira_prd_deleted:
 *
 * A deleted PRD's items are linked to no issue any more (a webhook for one
 * of them is `not-linked`); the issues stay in Jira. Its sync under way
 * ends (CANCELLED) and writes nothing more: no links, no issues it had not
 * asked Jira for yet.
 */
void
prd_hub_jira_prd_deleted (PrdHubJira *self, const char *prd_id, const char *org)
{
  g_autofree char *key = NULL;
  Sync *sync;

  g_return_if_fail (PRD_IS_HUB_JIRA (self));

  key = g_strdup_printf ("%zu:%s%s", strlen (org), org, prd_id);
  sync = self->syncs != NULL ? g_hash_table_lookup (self->syncs, key) : NULL;
  if (sync != NULL)
    {
      g_info ("jira (%s): %s was deleted under its %s sync: cancelled", org, prd_id,
              sync_types[sync->type]);
      sync->cancelled_why = "The PRD was deleted during the sync";
      g_cancellable_cancel (sync->cancellable);
    }
  prd_integration_store_delete_prd_links_async (self->links, org, prd_id, self->cancellable,
                                                on_prd_links_deleted, g_strdup (prd_id));
}

/* @url: (nullable): the hub's address, for the link from an issue back to
 * its PRD */
void
prd_hub_jira_set_public_url (PrdHubJira *self, const char *url)
{
  g_return_if_fail (PRD_IS_HUB_JIRA (self));

  g_free (self->public_url);
  self->public_url = g_strdup (url);
  if (self->public_url != NULL && g_str_has_suffix (self->public_url, "/"))
    self->public_url[strlen (self->public_url) - 1] = '\0';
}

void
prd_hub_jira_add_routes (PrdHubJira *self, PrdHubRest *rest)
{
  g_return_if_fail (PRD_IS_HUB_JIRA (self));

  prd_hub_rest_add_routes (rest, jira_routes, G_N_ELEMENTS (jira_routes), g_object_ref (self),
                           g_object_unref);
}
