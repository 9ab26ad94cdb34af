/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Integration settings and status for the admins of an organization, and
 * what integrations announce:
 *
 *   GET    /api/integrations                    every service: settings
 *          (secrets only as `<key>Set`), status, last error, times
 *   PUT    /api/integrations/{service}          set keys (JSON object;
 *          secrets write-only; null resets a key); 400 names the key
 *   DELETE /api/integrations/{service}          forget settings, secrets
 *          and links
 *   POST   /api/integrations/{service}/test     run the connection check
 *          now; answers the entry with its resulting status
 *
 * Only admins of the token's organization use these (FORBIDDEN otherwise).
 * Every call an integration makes enters the organization's activity feed
 * (`integration_call`), and a status that turns to `error` notifies the
 * organization's admins the hub knows of (a `notification` of type
 * `integration_error`): those who used these routes or connected to
 * /notifications or /prds since the hub started, as admins the last time
 * they did (a user seen since with another role is forgotten), at most
 * MAX_ADMINS per organization, those seen most recently.
 */
#define G_LOG_DOMAIN "prd-hub-integrations"

#include "config.h"

#include "prd-error.h"
#include "prd-hub-announce.h"
#include "prd-hub-context.h"
#include "prd-json.h"

#include "prd-hub-integrations.h"

/* The most admins remembered per organization; past it, the one seen
 * least recently is forgotten. */
#define MAX_ADMINS 256

struct _PrdHubIntegrations
{
  GObject parent_instance;

  PrdIntegrationRegistry *registry; /* (owned) */
  PrdNotificationStore *feed;       /* (owned) */
  GHashTable *admins;               /* org → (user id → last seen, a sequence number) */
  guint64 seen;                     /* the last sequence number given */
  GCancellable *cancellable;
};

enum
{
  SIGNAL_NOTIFICATIONS_RECORDED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (PrdHubIntegrations, prd_hub_integrations, G_TYPE_OBJECT)

static void
prd_hub_integrations_dispose (GObject *object)
{
  PrdHubIntegrations *self = PRD_HUB_INTEGRATIONS (object);

  g_cancellable_cancel (self->cancellable);
  if (self->registry != NULL)
    g_signal_handlers_disconnect_by_data (self->registry, self);
  g_clear_object (&self->registry);
  g_clear_object (&self->feed);
  g_clear_pointer (&self->admins, g_hash_table_unref);
  g_clear_object (&self->cancellable);
  G_OBJECT_CLASS (prd_hub_integrations_parent_class)->dispose (object);
}

static void
prd_hub_integrations_class_init (PrdHubIntegrationsClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = prd_hub_integrations_dispose;

  /**
   * PrdHubIntegrations::notifications-recorded:
   * @announce: (type PrdHubAnnounce): what an integration announced, stored
   */
  signals[SIGNAL_NOTIFICATIONS_RECORDED] =
      g_signal_new ("notifications-recorded", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                    NULL, NULL, G_TYPE_NONE, 1, PRD_TYPE_HUB_ANNOUNCE | G_SIGNAL_TYPE_STATIC_SCOPE);
}

static void
prd_hub_integrations_init (PrdHubIntegrations *self)
{
  self->admins =
      g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_hash_table_unref);
  self->cancellable = g_cancellable_new ();
}

/* Remembers the user of @identity as an admin of its organization, or
 * forgets them when they come back with another role (demoted). */
static void
note_identity (PrdHubIntegrations *self, const PrdIdentity *identity)
{
  GHashTable *users;

  if (identity == NULL)
    return;
  users = g_hash_table_lookup (self->admins, identity->org);
  if (identity->role != PRD_ROLE_ADMIN)
    {
      if (users != NULL)
        g_hash_table_remove (users, identity->user_id);
      return;
    }
  if (users == NULL)
    {
      users = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
      g_hash_table_insert (self->admins, g_strdup (identity->org), users);
    }
  g_hash_table_insert (users, g_strdup (identity->user_id),
                       g_memdup2 (&(guint64){ ++self->seen }, sizeof (guint64)));
  if (g_hash_table_size (users) > MAX_ADMINS)
    {
      GHashTableIter iter;
      gpointer user, seen;
      gpointer oldest = NULL;
      guint64 oldest_seen = G_MAXUINT64;

      g_hash_table_iter_init (&iter, users);
      while (g_hash_table_iter_next (&iter, &user, &seen))
        if (*(guint64 *) seen < oldest_seen)
          {
            oldest = user;
            oldest_seen = *(guint64 *) seen;
          }
      g_hash_table_remove (users, oldest);
    }
}

/* ---- announcements ---- */

static void
record (PrdHubIntegrations *self, PrdHubAnnounce *announce)
{
  prd_hub_announce_record (announce, self->feed, self, signals[SIGNAL_NOTIFICATIONS_RECORDED],
                           "an integration", self->cancellable);
}

static const char *
display_name (const char *service)
{
  if (g_str_equal (service, "jira"))
    return "Jira";
  if (g_str_equal (service, "git"))
    return "Git";
  if (g_str_equal (service, "mattermost"))
    return "Mattermost";
  if (g_str_equal (service, "craftio"))
    return "Craft.io";
  return service;
}

static void
on_status_changed (PrdIntegrationRegistry *registry,
                   const char *org,
                   const char *service,
                   PrdIntegration *integration,
                   gpointer user_data)
{
  PrdHubIntegrations *self = user_data;
  g_autoptr (PrdHubAnnounce) announce = NULL;
  g_autofree char *title = NULL;
  const char *message = prd_integration_get_last_error (integration);
  GHashTable *users = g_hash_table_lookup (self->admins, org);
  GHashTableIter iter;
  gpointer user;

  g_info ("%s (%s): status %s%s%s", service, org,
          prd_integration_status_to_string (prd_integration_get_status (integration)),
          message != NULL ? ": " : "", message != NULL ? message : "");
  if (prd_integration_get_status (integration) != PRD_INTEGRATION_ERROR || users == NULL)
    return;
  announce = prd_hub_announce_new (org);
  title = g_strdup_printf ("%s integration error", display_name (service));
  g_hash_table_iter_init (&iter, users);
  while (g_hash_table_iter_next (&iter, &user, NULL))
    {
      JsonObject *data = json_object_new ();

      json_object_set_string_member (data, "service", service);
      json_object_set_string_member (data, "organizationId", org);
      json_object_set_string_member (data, "status", "error");
      json_object_set_string_member (data, "error", message != NULL ? message : "");
      prd_hub_announce_notify (announce, user,
                               prd_hub_notification_new ("integration_error", title,
                                                         message != NULL ? message : "", data));
    }
  record (self, announce);
}

static void
on_call_finished (PrdIntegrationRegistry *registry,
                  const char *org,
                  const char *service,
                  const char *what,
                  gboolean ok,
                  const char *message,
                  gpointer user_data)
{
  PrdHubIntegrations *self = user_data;
  g_autoptr (PrdHubAnnounce) announce = prd_hub_announce_new (org);
  JsonObject *object = json_object_new ();

  json_object_set_string_member (object, "type", "integration");
  json_object_set_string_member (object, "id", service);
  json_object_set_string_member (object, "title", what);
  json_object_set_boolean_member (object, "ok", ok);
  if (message != NULL)
    json_object_set_string_member (object, "message", message);
  prd_hub_announce_activity (
      announce, prd_hub_activity_new ("integration_call", service, display_name (service), object));
  record (self, announce);
}

/**
 * prd_hub_integrations_new:
 * @registry: the services and their settings
 * @feed: where the activity feed and notifications are kept
 */
PrdHubIntegrations *
prd_hub_integrations_new (PrdIntegrationRegistry *registry, PrdNotificationStore *feed)
{
  PrdHubIntegrations *self;

  g_return_val_if_fail (PRD_IS_INTEGRATION_REGISTRY (registry), NULL);
  g_return_val_if_fail (PRD_IS_NOTIFICATION_STORE (feed), NULL);

  self = g_object_new (PRD_TYPE_HUB_INTEGRATIONS, NULL);
  self->registry = g_object_ref (registry);
  self->feed = g_object_ref (feed);
  g_signal_connect (registry, "status-changed", G_CALLBACK (on_status_changed), self);
  g_signal_connect (registry, "call-finished", G_CALLBACK (on_call_finished), self);
  return self;
}

static void
on_connection (PrdSioNamespace *nsp, PrdSioSocket *socket, gpointer user_data)
{
  note_identity (PRD_HUB_INTEGRATIONS (user_data), prd_hub_socket_get_identity (socket));
}

/* Admins who connect to @nsp hear of integration errors. */
void
prd_hub_integrations_watch_namespace (PrdHubIntegrations *self, PrdSioNamespace *nsp)
{
  g_return_if_fail (PRD_IS_HUB_INTEGRATIONS (self));

  g_signal_connect_object (nsp, "connection", G_CALLBACK (on_connection), self, 0);
}

/* ---- REST ---- */

typedef struct
{
  SoupServerMessage *msg;   /* (owned) */
  PrdHubIntegrations *self; /* (owned) */
  char *org;
  char *service;
} Call;

static Call *
call_new (SoupServerMessage *msg, PrdHubIntegrations *self, const char *org, const char *service)
{
  Call *call = g_new0 (Call, 1);

  call->msg = g_object_ref (msg);
  call->self = g_object_ref (self);
  call->org = g_strdup (org);
  call->service = g_strdup (service);
  soup_server_message_pause (msg);
  return call;
}

static void
call_finish (Call *call)
{
  soup_server_message_unpause (call->msg);
  g_object_unref (call->msg);
  g_object_unref (call->self);
  g_free (call->org);
  g_free (call->service);
  g_free (call);
}

static gboolean
check_admin (SoupServerMessage *msg, PrdHubIntegrations *self, const PrdIdentity *identity)
{
  note_identity (self, identity);
  if (identity->role == PRD_ROLE_ADMIN)
    return TRUE;
  prd_hub_rest_respond_error_literal (msg, PRD_ERROR_FORBIDDEN,
                                      "Only admins of the organization manage its integrations");
  return FALSE;
}

static void
respond_entry (PrdHubIntegrations *self, SoupServerMessage *msg, PrdIntegrationEntry *entry)
{
  g_autoptr (JsonNode) node =
      prd_hub_object_node (prd_integration_entry_to_json (self->registry, entry));

  prd_hub_rest_respond_json (msg, SOUP_STATUS_OK, node);
}

static void
on_listed (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Call *call = user_data;
  g_autoptr (GPtrArray) entries = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) node = NULL;
  JsonObject *object;
  JsonArray *array;

  entries =
      prd_integration_registry_list_finish (PRD_INTEGRATION_REGISTRY (source), result, &error);
  if (entries == NULL)
    {
      prd_hub_rest_respond_error (call->msg, error);
      call_finish (call);
      return;
    }
  object = json_object_new ();
  array = json_array_new ();
  for (guint i = 0; i < entries->len; i++)
    json_array_add_object_element (
        array,
        prd_integration_entry_to_json (call->self->registry, g_ptr_array_index (entries, i)));
  json_object_set_string_member (object, "organizationId", call->org);
  json_object_set_array_member (object, "integrations", array);
  node = prd_hub_object_node (object);
  prd_hub_rest_respond_json (call->msg, SOUP_STATUS_OK, node);
  call_finish (call);
}

static void
handle_list (SoupServerMessage *msg,
             const PrdIdentity *identity,
             const char *const *params,
             GHashTable *query,
             gpointer user_data)
{
  PrdHubIntegrations *self = user_data;
  Call *call;

  if (!check_admin (msg, self, identity))
    return;
  call = call_new (msg, self, identity->org, NULL);
  prd_integration_registry_list_async (self->registry, identity->org, self->cancellable, on_listed,
                                       call);
}

static void
on_put (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Call *call = user_data;
  g_autoptr (PrdIntegrationEntry) entry = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *bad_key = NULL;

  entry = prd_integration_registry_put_finish (PRD_INTEGRATION_REGISTRY (source), result, &bad_key,
                                               &error);
  if (entry == NULL)
    {
      if (bad_key != NULL && g_error_matches (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD))
        {
          g_autoptr (JsonNode) node = NULL;
          JsonObject *object = json_object_new ();

          json_object_set_string_member (object, "code", prd_error_get_protocol_code (error));
          json_object_set_string_member (object, "message", error->message);
          json_object_set_string_member (object, "key", bad_key);
          node = prd_hub_object_node (object);
          prd_hub_rest_respond_json (call->msg, SOUP_STATUS_BAD_REQUEST, node);
        }
      else
        prd_hub_rest_respond_error (call->msg, error);
      call_finish (call);
      return;
    }
  g_info ("%s (%s): settings changed by REST", call->service, call->org);
  respond_entry (call->self, call->msg, entry);
  call_finish (call);
}

static void
handle_put (SoupServerMessage *msg,
            const PrdIdentity *identity,
            const char *const *params,
            GHashTable *query,
            gpointer user_data)
{
  PrdHubIntegrations *self = user_data;
  SoupMessageBody *body = soup_server_message_get_request_body (msg);
  g_autoptr (GBytes) bytes = NULL;
  g_autoptr (JsonNode) node = NULL;
  g_autoptr (GError) error = NULL;
  Call *call;

  if (!check_admin (msg, self, identity))
    return;
  bytes = soup_message_body_flatten (body);
  node =
      prd_json_parse (g_bytes_get_data (bytes, NULL), (gssize) g_bytes_get_size (bytes), 0, &error);
  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    {
      prd_hub_rest_respond_error_literal (msg, PRD_ERROR_INVALID_PAYLOAD,
                                          "The body must be a JSON object of settings");
      return;
    }
  call = call_new (msg, self, identity->org, params[0]);
  prd_integration_registry_put_async (self->registry, identity->org, params[0],
                                      json_node_get_object (node), FALSE, self->cancellable, on_put,
                                      call);
}

static void
on_removed (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Call *call = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) node = NULL;
  JsonObject *object;

  if (!prd_integration_registry_remove_finish (PRD_INTEGRATION_REGISTRY (source), result, &error))
    {
      prd_hub_rest_respond_error (call->msg, error);
      call_finish (call);
      return;
    }
  g_info ("%s (%s): settings removed by REST", call->service, call->org);
  object = json_object_new ();
  json_object_set_string_member (object, "service", call->service);
  json_object_set_boolean_member (object, "removed", TRUE);
  node = prd_hub_object_node (object);
  prd_hub_rest_respond_json (call->msg, SOUP_STATUS_OK, node);
  call_finish (call);
}

static void
handle_delete (SoupServerMessage *msg,
               const PrdIdentity *identity,
               const char *const *params,
               GHashTable *query,
               gpointer user_data)
{
  PrdHubIntegrations *self = user_data;

  if (!check_admin (msg, self, identity))
    return;
  prd_integration_registry_remove_async (self->registry, identity->org, params[0],
                                         self->cancellable, on_removed,
                                         call_new (msg, self, identity->org, params[0]));
}

typedef struct
{
  Call *call;
  PrdIntegrationEntry *entry;
} Test;

static void
on_tested (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Test *test = user_data;

  /* The outcome is the entry's status (connected, or error with why). */
  prd_integration_test_finish (PRD_INTEGRATION (source), result, NULL);
  respond_entry (test->call->self, test->call->msg, test->entry);
  call_finish (test->call);
  prd_integration_entry_free (test->entry);
  g_free (test);
}

static void
on_got_for_test (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Call *call = user_data;
  g_autoptr (GError) error = NULL;
  PrdIntegrationEntry *entry;
  Test *test;

  entry = prd_integration_registry_get_finish (PRD_INTEGRATION_REGISTRY (source), result, &error);
  if (entry == NULL)
    {
      prd_hub_rest_respond_error (call->msg, error);
      call_finish (call);
      return;
    }
  if (!prd_integration_entry_check_usable (entry, PRD_TYPE_INTEGRATION,
                                           "This integration is not configured", &error))
    {
      prd_hub_rest_respond_error (call->msg, error);
      prd_integration_entry_free (entry);
      call_finish (call);
      return;
    }
  test = g_new0 (Test, 1);
  test->call = call;
  test->entry = entry;
  prd_integration_test_async (entry->integration, call->self->cancellable, on_tested, test);
}

static void
handle_test (SoupServerMessage *msg,
             const PrdIdentity *identity,
             const char *const *params,
             GHashTable *query,
             gpointer user_data)
{
  PrdHubIntegrations *self = user_data;

  if (!check_admin (msg, self, identity))
    return;
  prd_integration_registry_get_async (self->registry, identity->org, params[0], self->cancellable,
                                      on_got_for_test,
                                      call_new (msg, self, identity->org, params[0]));
}

static const PrdHubRouteEntry integration_routes[] = {
  { "GET", "/api/integrations", handle_list },
  { "PUT", "/api/integrations/{service}", handle_put, PRD_HUB_ROUTE_READS_BODY },
  { "DELETE", "/api/integrations/{service}", handle_delete },
  { "POST", "/api/integrations/{service}/test", handle_test },
};

void
prd_hub_integrations_add_routes (PrdHubIntegrations *self, PrdHubRest *rest)
{
  g_return_if_fail (PRD_IS_HUB_INTEGRATIONS (self));

  prd_hub_rest_add_routes (rest, integration_routes, G_N_ELEMENTS (integration_routes),
                           g_object_ref (self), g_object_unref);
}
