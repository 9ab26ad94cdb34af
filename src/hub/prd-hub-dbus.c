/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * PrdHubDbus: the hub's admin interface, org.prdtool.Hub1 at
 * /org/prdtool/Hub under the name org.prdtool.Hub on the session bus. A
 * final subclass of the skeleton gdbus-codegen makes from
 * data/org.prdtool.Hub1.xml; the admin app uses the proxy made from the
 * same file.
 *
 * It reads what it shows from the hub's parts through their public getters
 * (the sockets and identities of the Socket.IO namespaces, the /prds rooms,
 * the AI jobs, the event counters) and learns of changes from their signals
 * (a namespace's connection and disconnection, PrdHubRoomRegistry's
 * member-joined, member-left and member-changed,
 * PrdHubAi::job-changed, an engine socket's transport upgrade). It acts only
 * through their public calls: disconnect a socket, cancel a job, create a
 * version.
 *
 * Rates: the properties are recomputed and set at most every
 * %PRD_HUB_DBUS_INTERVAL_MS (the skeleton emits PropertiesChanged only for
 * values that changed), and SessionsChanged and each job's AiJobChanged are
 * coalesced to the same ticks, so none goes out more than twice a second.
 * The timer runs only while something may change: connections are open,
 * jobs are queued or running, or the last tick had something to say.
 *
 * Callers: the session bus admits only the hub's own user; every call
 * (methods, and reading the properties) asks the bus for the caller's uid
 * anyway before it is served, in the skeleton's g-authorize-method
 * (FORBIDDEN otherwise). Signals are broadcast: the bus decides who
 * receives them.
 *
 * TestIntegration runs the whole connection check, retries included, before
 * it answers (docs/dbus.md tells callers how long that can be); a hub that
 * stops meanwhile answers INTERNAL_ERROR.
 */
#define G_LOG_DOMAIN "prd-hub-dbus"

#include "config.h"

#include <string.h>
#include <unistd.h>

#include "prd-ai-job.h"
#include "prd-error.h"
#include "prd-hub-ai.h"
#include "prd-hub-context.h"
#include "prd-time.h"
#include "prd-hub-versions.h"

#include "prd-hub-dbus.h"

#define MAX_REASON_CHARS 500
/* An id longer than this is cut (at a character) in an error message. */
#define MAX_ID_CHARS   256
#define DEFAULT_REASON "Disconnected by the hub's operator"

struct _PrdHubDbus
{
  PrdDbusHub1Skeleton parent_instance;

  PrdHub *hub;                 /* (owned) (nullable): NULL once disposed */
  PrdHubDiscovery *discovery;  /* (owned) (nullable) */
  GDBusConnection *connection; /* (owned) (nullable): where we are exported */
  GCancellable *cancellable;   /* (owned) */
  guint owner_id;
  gboolean name_queued; /* another process owns the name, this hub waits for it */
  guint tick_id;
  gint64 started_at; /* µs since the epoch */
  gboolean sessions_dirty;
  GHashTable *dirty_jobs; /* job id → (owned) GVariant a{sv}: the latest snapshot */
  GHashTable *finished;   /* job id → (owned) GVariant a{sv} */
  GQueue finished_order;  /* (element-type utf8) (owned): oldest first */
  GPtrArray *tests;       /* (element-type IntegrationTest) (unowned): TestIntegration under way */
};

static void prd_hub_dbus_iface_init (PrdDbusHub1Iface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (PrdHubDbus,
                               prd_hub_dbus,
                               PRD_DBUS_TYPE_HUB1_SKELETON,
                               G_IMPLEMENT_INTERFACE (PRD_DBUS_TYPE_HUB1, prd_hub_dbus_iface_init))

enum
{
  SIGNAL_BUS_CLOSED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static const char *const namespaces[] = {
  PRD_HUB_NAMESPACE_MAIN,
  PRD_HUB_NAMESPACE_PRDS,
  PRD_HUB_NAMESPACE_NOTIFICATIONS,
};

/* ---- reading the hub ------------------------------------------------------- */

/* Every admitted namespace connection, with a reference each. */
static GPtrArray *
list_sockets (PrdHubDbus *self)
{
  GPtrArray *sockets = g_ptr_array_new_with_free_func (g_object_unref);
  PrdSioServer *sio = prd_hub_get_sio_server (self->hub);

  for (guint i = 0; i < G_N_ELEMENTS (namespaces); i++)
    {
      PrdSioNamespace *nsp = prd_sio_server_lookup (sio, namespaces[i]);
      g_autoptr (GPtrArray) in_nsp = NULL;

      if (nsp == NULL)
        continue;
      in_nsp = prd_sio_namespace_get_room_sockets (nsp, NULL);
      for (guint j = 0; j < in_nsp->len; j++)
        {
          PrdSioSocket *socket = g_ptr_array_index (in_nsp, j);

          if (prd_sio_socket_is_connected (socket) && prd_hub_socket_get_identity (socket) != NULL)
            g_ptr_array_add (sockets, g_object_ref (socket));
        }
    }
  return sockets;
}

static PrdSioSocket *
find_socket (PrdHubDbus *self, const char *id)
{
  g_autoptr (GPtrArray) sockets = list_sockets (self);

  for (guint i = 0; i < sockets->len; i++)
    {
      PrdSioSocket *socket = g_ptr_array_index (sockets, i);

      if (g_str_equal (prd_sio_socket_get_id (socket), id))
        return g_object_ref (socket);
    }
  return NULL;
}

static GVariant *
session_to_variant (PrdHubDbus *self, PrdSioSocket *socket)
{
  const PrdIdentity *identity = prd_hub_socket_get_identity (socket);
  PrdEioSocket *engine = prd_sio_socket_get_engine (socket);
  PrdHubRoomRegistry *rooms = prd_hub_get_rooms (self->hub);
  const char *nsp_name = prd_sio_namespace_get_name (prd_sio_socket_get_namespace (socket));
  const char *remote = engine != NULL ? prd_eio_socket_get_remote_address (engine) : NULL;
  GVariantDict dict;

  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "id", "s", prd_sio_socket_get_id (socket));
  g_variant_dict_insert (&dict, "namespace", "s", nsp_name);
  g_variant_dict_insert (&dict, "user-id", "s", identity->user_id);
  g_variant_dict_insert (&dict, "name", "s", identity->name);
  g_variant_dict_insert (&dict, "organization", "s", identity->org);
  g_variant_dict_insert (&dict, "role", "s", prd_role_to_string (identity->role));
  g_variant_dict_insert (&dict, "transport", "s",
                         engine != NULL ? prd_eio_socket_get_transport_name (engine) : "");
  g_variant_dict_insert (&dict, "remote-address", "s", remote != NULL ? remote : "");
  g_variant_dict_insert (&dict, "connected-since", "x", prd_sio_socket_get_connected_at (socket));

  if (rooms != NULL && g_str_equal (nsp_name, PRD_HUB_NAMESPACE_PRDS))
    {
      g_auto (GStrv) prd_ids = prd_hub_room_registry_get_socket_prds (rooms, socket);
      PrdHubRoom *hub_room;

      if (prd_ids[0] != NULL)
        {
          const char *conn_id = prd_sio_socket_get_id (socket);

          g_variant_dict_insert (&dict, "prd-ids", "^as", prd_ids);
          g_variant_dict_insert (&dict, "prd-id", "s", prd_ids[0]);
          hub_room = prd_hub_room_registry_get_joined (rooms, socket, prd_ids[0], NULL);
          if (hub_room != NULL && prd_hub_room_get_members (hub_room) != NULL)
            {
              PrdRoom *room = prd_hub_room_get_members (hub_room);
              const char *status = prd_room_member_get_status (room, conn_id);

              g_variant_dict_insert (&dict, "mode", "s",
                                     prd_room_member_can_edit (room, conn_id) ? "edit" : "view");
              if (status != NULL)
                g_variant_dict_insert (&dict, "status", "s", status);
            }
        }
    }
  return g_variant_dict_end (&dict);
}

static GVariant *
job_to_variant (const PrdAiJob *job)
{
  gint64 now_mono = g_get_monotonic_time ();
  gint64 started_at = 0, duration = MAX (job->duration, 0);
  GVariantDict dict;

  if (job->started_at > 0)
    started_at = g_get_real_time () - (now_mono - job->started_at);
  if (job->state == PRD_AI_JOB_STREAMING)
    duration = (now_mono - job->started_at) / 1000;

  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "id", "s", job->id);
  g_variant_dict_insert (&dict, "prd-id", "s", job->prd_id);
  g_variant_dict_insert (&dict, "organization", "s", job->org);
  g_variant_dict_insert (&dict, "user-id", "s", job->user_id);
  g_variant_dict_insert (&dict, "state", "s", prd_ai_job_state_to_string (job->state));
  g_variant_dict_insert (&dict, "tokens", "t", (guint64) MAX (job->tokens, 0));
  g_variant_dict_insert (&dict, "chunks", "u", job->chunks);
  g_variant_dict_insert (&dict, "created-at", "x", job->created_at * 1000);
  g_variant_dict_insert (&dict, "started-at", "x", started_at);
  g_variant_dict_insert (&dict, "duration", "t", (guint64) duration);
  if (job->error_code != NULL)
    {
      g_variant_dict_insert (&dict, "error-code", "s", job->error_code);
      g_variant_dict_insert (&dict, "error-message", "s",
                             job->error_message != NULL ? job->error_message : "");
    }
  return g_variant_dict_end (&dict);
}

static GPtrArray *
list_live_jobs (PrdHubDbus *self)
{
  PrdHubAi *ai = prd_hub_get_ai (self->hub);

  if (ai == NULL)
    return g_ptr_array_new ();
  return prd_hub_ai_list_jobs (ai);
}

/* ---- properties and coalesced signals ---------------------------------------- */

/* Sets the properties from the hub; returns whether any changed. */
static gboolean
update_properties (PrdHubDbus *self, gboolean *out_busy)
{
  PrdDbusHub1 *iface = PRD_DBUS_HUB1 (self);
  PrdSioServer *sio = prd_hub_get_sio_server (self->hub);
  PrdHubRoomRegistry *rooms = prd_hub_get_rooms (self->hub);
  g_autoptr (GPtrArray) sockets = list_sockets (self);
  g_autoptr (GPtrArray) jobs = list_live_jobs (self);
  g_autoptr (GHashTable) users = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autofree char *url = prd_hub_get_url (self->hub);
  guint running = 0, queued = 0;
  guint64 events_in = prd_sio_server_get_n_events_received (sio);
  guint64 events_out = prd_sio_server_get_n_events_sent (sio);
  guint open_prds = rooms != NULL ? prd_hub_room_registry_get_n_rooms (rooms) : 0;
  gboolean changed = FALSE;

  for (guint i = 0; rooms != NULL && i < sockets->len; i++)
    {
      PrdSioSocket *socket = g_ptr_array_index (sockets, i);
      const PrdIdentity *identity = prd_hub_socket_get_identity (socket);
      g_auto (GStrv) prd_ids = prd_hub_room_registry_get_socket_prds (rooms, socket);

      /* A user is the pair (organization, user id). */
      if (prd_ids[0] != NULL)
        g_hash_table_add (users, g_strdup_printf ("%s\x1f%s", identity->org, identity->user_id));
    }
  for (guint i = 0; i < jobs->len; i++)
    {
      const PrdAiJob *job = g_ptr_array_index (jobs, i);

      if (job->state == PRD_AI_JOB_STREAMING)
        running++;
      else if (job->state == PRD_AI_JOB_QUEUED)
        queued++;
    }

#define SET(prop, value)                             \
  G_STMT_START                                       \
  {                                                  \
    if (prd_dbus_hub1_get_##prop (iface) != (value)) \
      {                                              \
        prd_dbus_hub1_set_##prop (iface, (value));   \
        changed = TRUE;                              \
      }                                              \
  }                                                  \
  G_STMT_END
  SET (connections, sockets->len);
  SET (joined_users, g_hash_table_size (users));
  SET (open_prds, open_prds);
  SET (events_in, events_in);
  SET (events_out, events_out);
  SET (ai_jobs_running, running);
  SET (ai_jobs_queued, queued);
#undef SET
  if (self->discovery != NULL)
    {
      g_autoptr (GVariant) discovery =
          g_variant_ref_sink (prd_hub_discovery_get_state (self->discovery));
      GVariant *shown = prd_dbus_hub1_get_discovery (iface);

      if (shown == NULL || !g_variant_equal (shown, discovery))
        {
          prd_dbus_hub1_set_discovery (iface, discovery);
          changed = TRUE;
        }
    }
  if (url != NULL && g_strcmp0 (prd_dbus_hub1_get_listen_uri (iface), url) != 0)
    {
      prd_dbus_hub1_set_listen_uri (iface, url);
      changed = TRUE;
    }

  *out_busy = sockets->len > 0 || jobs->len > 0;
  return changed;
}

/* Sends what changed since the last tick; returns whether there was any. */
static gboolean
flush (PrdHubDbus *self, gboolean *out_busy)
{
  PrdDbusHub1 *iface = PRD_DBUS_HUB1 (self);
  gboolean emitted = update_properties (self, out_busy);
  GHashTableIter iter;
  GVariant *job;

  if (self->sessions_dirty)
    {
      self->sessions_dirty = FALSE;
      prd_dbus_hub1_emit_sessions_changed (iface);
      emitted = TRUE;
    }
  g_hash_table_iter_init (&iter, self->dirty_jobs);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &job))
    {
      prd_dbus_hub1_emit_ai_job_changed (iface, job);
      g_hash_table_iter_remove (&iter);
      emitted = TRUE;
    }
  return emitted;
}

static gboolean
on_tick (gpointer user_data)
{
  PrdHubDbus *self = user_data;
  gboolean busy = FALSE;

  if (!flush (self, &busy) && !busy)
    {
      self->tick_id = 0;
      return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

static gboolean
on_first_tick (gpointer user_data)
{
  PrdHubDbus *self = user_data;
  gboolean busy = FALSE;

  /* What changed in this main-loop iteration goes out at once, the next
   * changes with the following ticks. */
  flush (self, &busy);
  self->tick_id = g_timeout_add (PRD_HUB_DBUS_INTERVAL_MS, on_tick, self);
  g_source_set_name_by_id (self->tick_id, "[prdhub] D-Bus tick");
  return G_SOURCE_REMOVE;
}

static void
schedule (PrdHubDbus *self)
{
  if (self->hub == NULL || self->tick_id != 0)
    return;
  self->tick_id = g_idle_add (on_first_tick, self);
  g_source_set_name_by_id (self->tick_id, "[prdhub] D-Bus first tick");
}

static void
sessions_changed (PrdHubDbus *self)
{
  self->sessions_dirty = TRUE;
  schedule (self);
}

/* A session's transport is part of what the session list shows. */
static void
on_upgraded (PrdEioServer *engine, PrdEioSocket *socket, gpointer user_data)
{
  sessions_changed (PRD_HUB_DBUS (user_data));
}

static void
on_connection (PrdSioNamespace *nsp, PrdSioSocket *socket, gpointer user_data)
{
  sessions_changed (PRD_HUB_DBUS (user_data));
}

static void
on_disconnection (PrdSioNamespace *nsp,
                  PrdSioSocket *socket,
                  const char *reason,
                  gpointer user_data)
{
  sessions_changed (PRD_HUB_DBUS (user_data));
}

static void
on_member_joined (PrdHubRoomRegistry *rooms,
                  PrdHubRoom *room,
                  PrdSioSocket *socket,
                  const char *user_id,
                  JsonObject *joined,
                  gpointer user_data)
{
  sessions_changed (PRD_HUB_DBUS (user_data));
}

static void
on_member_left (PrdHubRoomRegistry *rooms,
                PrdHubRoom *room,
                PrdSioSocket *socket,
                const char *user_id,
                gpointer user_data)
{
  sessions_changed (PRD_HUB_DBUS (user_data));
}

static void
on_member_changed (PrdHubRoomRegistry *rooms,
                   PrdHubRoom *room,
                   PrdSioSocket *socket,
                   gpointer user_data)
{
  sessions_changed (PRD_HUB_DBUS (user_data));
}

static void
remember_finished (PrdHubDbus *self, const char *id, GVariant *snapshot)
{
  if (!g_hash_table_contains (self->finished, id))
    g_queue_push_tail (&self->finished_order, g_strdup (id));
  g_hash_table_replace (self->finished, g_strdup (id), g_variant_ref (snapshot));
  while (g_queue_get_length (&self->finished_order) > PRD_HUB_DBUS_MAX_FINISHED_JOBS)
    {
      g_autofree char *oldest = g_queue_pop_head (&self->finished_order);

      g_hash_table_remove (self->finished, oldest);
    }
}

static void
on_job_changed (PrdHubAi *ai, PrdAiJob *job, gpointer user_data)
{
  PrdHubDbus *self = user_data;
  g_autoptr (GVariant) snapshot = g_variant_ref_sink (job_to_variant (job));

  g_hash_table_replace (self->dirty_jobs, g_strdup (job->id), g_variant_ref (snapshot));
  if (prd_ai_job_is_finished (job))
    remember_finished (self, job->id, snapshot);
  schedule (self);
}

/* ---- callers ------------------------------------------------------------------ */

typedef void (*AuthorizedFunc) (PrdHubDbus *self, GDBusMethodInvocation *invocation);

static void
return_error (GDBusMethodInvocation *invocation, PrdErrorCode code, const char *message)
{
  g_dbus_method_invocation_return_error_literal (invocation, PRD_ERROR, (int) code, message);
}

/* The skeleton's g-authorize-method, for every call on the interface,
 * method or property access (org.freedesktop.DBus.Properties.Get, GetAll,
 * Set): GDBus runs it in a thread of its own, so asking the bus for the
 * caller's uid may block there. FALSE answers the call FORBIDDEN. */
static gboolean
on_authorize_method (GDBusInterfaceSkeleton *skeleton,
                     GDBusMethodInvocation *invocation,
                     gpointer user_data)
{
  const char *sender = g_dbus_method_invocation_get_sender (invocation);
  g_autoptr (GVariant) reply = NULL;
  g_autoptr (GError) error = NULL;
  guint32 uid;

  if (sender == NULL)
    {
      return_error (invocation, PRD_ERROR_FORBIDDEN, "Only callers on the session bus are served");
      return FALSE;
    }
  reply = g_dbus_connection_call_sync (g_dbus_method_invocation_get_connection (invocation),
                                       "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                       "org.freedesktop.DBus", "GetConnectionUnixUser",
                                       g_variant_new ("(s)", sender), G_VARIANT_TYPE ("(u)"),
                                       G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
  if (reply == NULL)
    {
      g_autofree char *message = g_strdup_printf ("Cannot tell who is calling: %s", error->message);

      return_error (invocation, PRD_ERROR_FORBIDDEN, message);
      return FALSE;
    }
  g_variant_get (reply, "(u)", &uid);
  if (uid != getuid ())
    {
      g_message ("D-Bus: refused %s.%s from %s (uid %u)",
                 g_dbus_method_invocation_get_interface_name (invocation),
                 g_dbus_method_invocation_get_method_name (invocation), sender, uid);
      return_error (invocation, PRD_ERROR_FORBIDDEN,
                    "Only the hub's own user may use its admin interface");
      return FALSE;
    }
  return TRUE;
}

/* Property access goes through the skeleton's method_call like the methods
 * (GDBus does so when the vtable has no get_property), so that
 * g-authorize-method sees it too; the generated skeleton still reads the
 * values. */
static void
handle_method_call (GDBusConnection *connection,
                    const char *sender,
                    const char *object_path,
                    const char *interface_name,
                    const char *method_name,
                    GVariant *parameters,
                    GDBusMethodInvocation *invocation,
                    gpointer user_data)
{
  GDBusInterfaceSkeleton *skeleton = G_DBUS_INTERFACE_SKELETON (user_data);
  GDBusInterfaceVTable *generated =
      G_DBUS_INTERFACE_SKELETON_CLASS (prd_hub_dbus_parent_class)->get_vtable (skeleton);
  GDBusInterfaceInfo *info = g_dbus_interface_skeleton_get_info (skeleton);
  GError *error = NULL;

  if (!g_str_equal (interface_name, "org.freedesktop.DBus.Properties"))
    {
      generated->method_call (connection, sender, object_path, interface_name, method_name,
                              parameters, invocation, user_data);
      return;
    }
  if (g_str_equal (method_name, "Get"))
    {
      const char *name;
      g_autoptr (GVariant) value = NULL;

      g_variant_get (parameters, "(&s&s)", NULL, &name);
      value = generated->get_property (connection, sender, object_path, info->name, name, &error,
                                       user_data);
      if (value == NULL)
        g_dbus_method_invocation_take_error (invocation, error);
      else
        g_dbus_method_invocation_return_value (invocation,
                                               g_variant_new ("(v)", g_variant_take_ref (value)));
    }
  else if (g_str_equal (method_name, "GetAll"))
    {
      GVariantBuilder builder;

      g_variant_builder_init (&builder, G_VARIANT_TYPE ("a{sv}"));
      for (guint i = 0; info->properties != NULL && info->properties[i] != NULL; i++)
        {
          GDBusPropertyInfo *property = info->properties[i];
          g_autoptr (GVariant) value = NULL;

          if ((property->flags & G_DBUS_PROPERTY_INFO_FLAGS_READABLE) == 0)
            continue;
          value = generated->get_property (connection, sender, object_path, info->name,
                                           property->name, NULL, user_data);
          if (value != NULL)
            g_variant_builder_add (&builder, "{sv}", property->name, g_variant_take_ref (value));
        }
      g_dbus_method_invocation_return_value (invocation, g_variant_new ("(a{sv})", &builder));
    }
  else
    g_dbus_method_invocation_return_error_literal (invocation, G_DBUS_ERROR,
                                                   G_DBUS_ERROR_PROPERTY_READ_ONLY,
                                                   "Every property of the hub is read-only");
}

static GDBusInterfaceVTable *
prd_hub_dbus_get_vtable (GDBusInterfaceSkeleton *skeleton)
{
  static GDBusInterfaceVTable vtable = { handle_method_call, NULL, NULL, { 0 } };

  return &vtable;
}

/* Runs @func for a caller on_authorize_method() let through. */
static gboolean
authorize (PrdHubDbus *self, GDBusMethodInvocation *invocation, AuthorizedFunc func)
{
  if (self->hub == NULL)
    return_error (invocation, PRD_ERROR_INTERNAL, "The hub is stopping");
  else
    func (self, invocation);
  return TRUE;
}

/* ---- methods ------------------------------------------------------------------ */

static void
list_sessions (PrdHubDbus *self, GDBusMethodInvocation *invocation)
{
  g_autoptr (GPtrArray) sockets = list_sockets (self);
  GVariantBuilder builder;

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("aa{sv}"));
  for (guint i = 0; i < sockets->len; i++)
    g_variant_builder_add_value (&builder,
                                 session_to_variant (self, g_ptr_array_index (sockets, i)));
  prd_dbus_hub1_complete_list_sessions (PRD_DBUS_HUB1 (self), invocation,
                                        g_variant_builder_end (&builder));
}

static int
compare_jobs (gconstpointer a, gconstpointer b)
{
  GVariant *job_a = *(GVariant *const *) a;
  GVariant *job_b = *(GVariant *const *) b;
  gint64 created_a = 0, created_b = 0;

  g_variant_lookup (job_a, "created-at", "x", &created_a);
  g_variant_lookup (job_b, "created-at", "x", &created_b);
  return (created_a > created_b) - (created_a < created_b);
}

static void
list_ai_jobs (PrdHubDbus *self, GDBusMethodInvocation *invocation)
{
  g_autoptr (GPtrArray) live = list_live_jobs (self);
  g_autoptr (GPtrArray) all = g_ptr_array_new_with_free_func ((GDestroyNotify) g_variant_unref);
  g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  GVariantBuilder builder;
  GHashTableIter iter;
  gpointer id, snapshot;

  for (guint i = 0; i < live->len; i++)
    {
      PrdAiJob *job = g_ptr_array_index (live, i);

      g_hash_table_add (seen, job->id);
      g_ptr_array_add (all, g_variant_ref_sink (job_to_variant (job)));
    }
  g_hash_table_iter_init (&iter, self->finished);
  while (g_hash_table_iter_next (&iter, &id, &snapshot))
    if (!g_hash_table_contains (seen, id))
      g_ptr_array_add (all, g_variant_ref (snapshot));
  g_ptr_array_sort (all, compare_jobs);

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("aa{sv}"));
  for (guint i = 0; i < all->len; i++)
    g_variant_builder_add_value (&builder, g_ptr_array_index (all, i));
  prd_dbus_hub1_complete_list_ai_jobs (PRD_DBUS_HUB1 (self), invocation,
                                       g_variant_builder_end (&builder));
}

/* One integration as ListIntegrations shows it. */
static GVariant *
integration_to_variant (const char *org,
                        const char *service,
                        PrdIntegration *integration,
                        const char *problem)
{
  GVariantDict dict;
  const char *error = integration != NULL ? prd_integration_get_last_error (integration) : problem;

  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "organization", "s", org);
  g_variant_dict_insert (&dict, "service", "s", service);
  g_variant_dict_insert (&dict, "status", "s",
                         integration != NULL ? prd_integration_status_to_string (
                                                   prd_integration_get_status (integration))
                                             : "disconnected");
  g_variant_dict_insert (&dict, "last-error", "s", error != NULL ? error : "");
  g_variant_dict_insert (&dict, "last-success", "x",
                         integration != NULL ? prd_integration_get_last_success (integration) : 0);
  return g_variant_dict_end (&dict);
}

static void
on_integrations_listed (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GDBusMethodInvocation) invocation = user_data;
  g_autoptr (GPtrArray) entries = NULL;
  g_autoptr (GError) error = NULL;
  GVariantBuilder builder;

  entries =
      prd_integration_registry_list_finish (PRD_INTEGRATION_REGISTRY (source), result, &error);
  if (entries == NULL)
    {
      g_dbus_method_invocation_return_gerror (invocation, error);
      return;
    }
  g_variant_builder_init (&builder, G_VARIANT_TYPE ("aa{sv}"));
  for (guint i = 0; i < entries->len; i++)
    {
      PrdIntegrationEntry *entry = g_ptr_array_index (entries, i);

      g_variant_builder_add_value (
          &builder,
          integration_to_variant (entry->org, entry->service, entry->integration, entry->problem));
    }
  g_dbus_method_invocation_return_value (invocation, g_variant_new ("(aa{sv})", &builder));
}

static void
list_integrations (PrdHubDbus *self, GDBusMethodInvocation *invocation)
{
  PrdIntegrationRegistry *registry =
      self->hub != NULL ? prd_hub_get_integration_registry (self->hub) : NULL;

  /* Without a secret store the hub offers no integration. */
  if (registry == NULL)
    {
      prd_dbus_hub1_complete_list_integrations (
          PRD_DBUS_HUB1 (self), invocation, g_variant_new_array (G_VARIANT_TYPE_VARDICT, NULL, 0));
      return;
    }
  /* Every configured service of every organization, read afresh. */
  prd_integration_registry_list_async (registry, NULL, self->cancellable, on_integrations_listed,
                                       g_object_ref (invocation));
}

static void
disconnect_session (PrdHubDbus *self, GDBusMethodInvocation *invocation)
{
  g_autoptr (PrdSioSocket) socket = NULL;
  g_autoptr (JsonBuilder) builder = NULL;
  g_autoptr (JsonNode) payload = NULL;
  g_autofree char *timestamp = NULL;
  g_autofree char *stripped = NULL;
  const char *id, *reason;

  g_variant_get (g_dbus_method_invocation_get_parameters (invocation), "(&s&s)", &id, &reason);
  if (g_utf8_strlen (reason, -1) > MAX_REASON_CHARS)
    {
      g_autofree char *message =
          g_strdup_printf ("The reason must be at most %d characters long", MAX_REASON_CHARS);

      return_error (invocation, PRD_ERROR_INVALID_PAYLOAD, message);
      return;
    }
  /* The reason goes into the log and to the client: a line break would
   * forge a log line, an escape sequence would reach a terminal. */
  for (const char *p = reason; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (g_unichar_iscntrl (c) && c != '\t')
        {
          return_error (invocation, PRD_ERROR_INVALID_PAYLOAD,
                        "The reason must hold no control characters other than tab");
          return;
        }
    }
  socket = find_socket (self, id);
  if (socket == NULL)
    {
      g_autofree char *shown = prd_error_truncate_message (id, MAX_ID_CHARS);
      g_autofree char *message = g_strdup_printf ("No session %s is connected", shown);

      return_error (invocation, PRD_ERROR_NOT_FOUND, message);
      return;
    }

  stripped = g_strstrip (g_strdup (reason));
  timestamp = prd_time_format_now ();
  builder = json_builder_new ();
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "message");
  json_builder_add_string_value (builder, *stripped != '\0' ? stripped : DEFAULT_REASON);
  json_builder_set_member_name (builder, "timestamp");
  json_builder_add_string_value (builder, timestamp);
  json_builder_end_object (builder);
  payload = json_builder_get_root (builder);
  g_message ("D-Bus: disconnecting session %s (%s of %s): %s", id,
             prd_hub_socket_get_identity (socket)->user_id,
             prd_hub_socket_get_identity (socket)->org,
             *stripped != '\0' ? stripped : DEFAULT_REASON);
  /* Both leave on the same session, the event first. */
  prd_sio_socket_emit_one (socket, "session-closed", payload);
  prd_sio_socket_disconnect (socket);
  prd_dbus_hub1_complete_disconnect_session (PRD_DBUS_HUB1 (self), invocation);
}

static void
cancel_ai_job (PrdHubDbus *self, GDBusMethodInvocation *invocation)
{
  PrdHubAi *ai = prd_hub_get_ai (self->hub);
  g_autoptr (GError) error = NULL;
  g_autofree char *shown = NULL;
  const char *id;

  g_variant_get (g_dbus_method_invocation_get_parameters (invocation), "(&s)", &id);
  if (ai == NULL)
    {
      shown = prd_error_truncate_message (id, MAX_ID_CHARS);
      g_set_error (&error, PRD_ERROR, PRD_ERROR_NOT_FOUND, "No AI job %s is queued or running",
                   shown);
    }
  else if (strlen (id) <= MAX_ID_CHARS)
    prd_hub_ai_cancel_job (ai, id, &error);
  else
    g_set_error_literal (&error, PRD_ERROR, PRD_ERROR_NOT_FOUND, "No such AI job");
  if (error != NULL)
    {
      g_dbus_method_invocation_return_gerror (invocation, error);
      return;
    }
  g_message ("D-Bus: cancelled AI job %s", id);
  prd_dbus_hub1_complete_cancel_ai_job (PRD_DBUS_HUB1 (self), invocation);
}

/* A TestIntegration under way, from the look-up of the integration to the
 * end of its check. PrdHubDbus keeps it in `tests` until it is answered: a
 * stopping hub answers InternalError, from dispose at the latest, since a
 * check may outlast the process. */
typedef struct
{
  PrdHubDbus *self;                  /* (unowned) (nullable): NULL once answered */
  GDBusMethodInvocation *invocation; /* (owned) (nullable): NULL once answered */
  PrdIntegrationEntry *entry;        /* (owned) (nullable): until the look-up ends */
} IntegrationTest;

static void
integration_test_free (IntegrationTest *test)
{
  g_assert (test->invocation == NULL);
  g_clear_pointer (&test->entry, prd_integration_entry_free);
  g_free (test);
}

/* Takes @test out of its hub's list and answers @error, or the status of
 * its integration when @error is %NULL. */
static void
integration_test_answer (IntegrationTest *test, GError *error)
{
  GDBusMethodInvocation *invocation = g_steal_pointer (&test->invocation);

  g_ptr_array_remove_fast (test->self->tests, test);
  test->self = NULL;
  if (error != NULL)
    g_dbus_method_invocation_take_error (invocation, error);
  else
    g_dbus_method_invocation_return_value (
        invocation,
        g_variant_new ("(@a{sv})", integration_to_variant (test->entry->org, test->entry->service,
                                                           test->entry->integration, NULL)));
  g_object_unref (invocation);
}

/* A look-up is cancelled only by a stopping hub (its own cancellable, or
 * the integration registry's shutdown); a check also when its settings are
 * removed or replaced (on_integration_tested()). */
static gboolean
is_cancelled (const GError *error)
{
  return g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) ||
         g_error_matches (error, PRD_ERROR, PRD_ERROR_CANCELLED);
}

static GError *
stopping_error (void)
{
  return g_error_new_literal (PRD_ERROR, PRD_ERROR_INTERNAL, "The hub is stopping");
}

static void
on_integration_tested (GObject *source, GAsyncResult *result, gpointer user_data)
{
  IntegrationTest *test = user_data;
  g_autoptr (GError) error = NULL;

  prd_integration_test_finish (PRD_INTEGRATION (source), result, &error);
  if (test->invocation != NULL)
    {
      /* A failed check is the status `error` with why; a cancelled one
       * left the status as it was and says nothing of the service: the
       * hub stops, or the settings were removed or replaced under it (the
       * registry retired the integration), which answers the entry as it
       * was, as the REST check does. */
      gboolean stopping =
          test->self->cancellable == NULL || g_cancellable_is_cancelled (test->self->cancellable);

      integration_test_answer (test, is_cancelled (error) && stopping ? stopping_error () : NULL);
    }
  integration_test_free (test);
}

static void
on_integration_got (GObject *source, GAsyncResult *result, gpointer user_data)
{
  IntegrationTest *test = user_data;
  g_autoptr (GError) error = NULL;
  PrdIntegrationEntry *entry;

  entry = prd_integration_registry_get_finish (PRD_INTEGRATION_REGISTRY (source), result, &error);
  if (test->invocation == NULL)
    {
      g_clear_pointer (&entry, prd_integration_entry_free);
      integration_test_free (test);
      return;
    }
  if (entry != NULL && entry->integration == NULL)
    {
      g_autofree char *service = prd_error_truncate_message (entry->service, MAX_ID_CHARS);
      g_autofree char *org = prd_error_truncate_message (entry->org, MAX_ID_CHARS);

      g_set_error (&error, PRD_ERROR, PRD_ERROR_NOT_FOUND,
                   "No integration %s is configured for organization %s%s%s", service, org,
                   entry->problem != NULL ? ": " : "",
                   entry->problem != NULL ? entry->problem : "");
      g_clear_pointer (&entry, prd_integration_entry_free);
    }
  if (entry == NULL)
    {
      integration_test_answer (test,
                               is_cancelled (error) ? stopping_error () : g_steal_pointer (&error));
      integration_test_free (test);
      return;
    }
  test->entry = entry;
  prd_integration_test_async (entry->integration, test->self->cancellable, on_integration_tested,
                              test);
}

static void
test_integration (PrdHubDbus *self, GDBusMethodInvocation *invocation)
{
  g_autofree char *message = NULL;
  PrdIntegrationRegistry *registry =
      self->hub != NULL ? prd_hub_get_integration_registry (self->hub) : NULL;
  const char *organization, *service;
  IntegrationTest *test;

  g_variant_get (g_dbus_method_invocation_get_parameters (invocation), "(&s&s)", &organization,
                 &service);
  if (*organization == '\0' || *service == '\0')
    {
      return_error (invocation, PRD_ERROR_INVALID_PAYLOAD,
                    "Both an organization and a service are needed");
      return;
    }
  if (registry == NULL || !prd_integration_registry_has_service (registry, service))
    {
      g_autofree char *shown_service = prd_error_truncate_message (service, MAX_ID_CHARS);
      g_autofree char *shown_org = prd_error_truncate_message (organization, MAX_ID_CHARS);

      message = g_strdup_printf ("No integration %s is configured for organization %s",
                                 shown_service, shown_org);
      return_error (invocation, PRD_ERROR_NOT_FOUND, message);
      return;
    }
  test = g_new0 (IntegrationTest, 1);
  test->self = self;
  test->invocation = g_object_ref (invocation);
  g_ptr_array_add (self->tests, test);
  prd_integration_registry_get_async (registry, organization, service, self->cancellable,
                                      on_integration_got, test);
}

static void
on_version_created (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GDBusMethodInvocation) invocation = user_data;
  g_autoptr (GError) error = NULL;
  g_autofree char *version = NULL;

  version = prd_hub_versions_create_finish (PRD_HUB_VERSIONS (source), result, &error);
  if (version == NULL)
    {
      g_dbus_method_invocation_return_gerror (invocation, error);
      return;
    }
  g_dbus_method_invocation_return_value (invocation, g_variant_new ("(s)", version));
}

static void
create_version (PrdHubDbus *self, GDBusMethodInvocation *invocation)
{
  PrdHubVersions *versions = prd_hub_get_versions (self->hub);
  const char *prd_id, *changelog;

  g_variant_get (g_dbus_method_invocation_get_parameters (invocation), "(&s&s)", &prd_id,
                 &changelog);
  if (versions == NULL)
    {
      return_error (invocation, PRD_ERROR_STORAGE, "This hub keeps no versions");
      return;
    }
  prd_hub_versions_create_async (versions, prd_id, changelog, NULL, on_version_created,
                                 g_object_ref (invocation));
}

static gboolean
handle_list_sessions (PrdDbusHub1 *object, GDBusMethodInvocation *invocation)
{
  return authorize (PRD_HUB_DBUS (object), invocation, list_sessions);
}

static gboolean
handle_list_ai_jobs (PrdDbusHub1 *object, GDBusMethodInvocation *invocation)
{
  return authorize (PRD_HUB_DBUS (object), invocation, list_ai_jobs);
}

static gboolean
handle_list_integrations (PrdDbusHub1 *object, GDBusMethodInvocation *invocation)
{
  return authorize (PRD_HUB_DBUS (object), invocation, list_integrations);
}

static gboolean
handle_disconnect_session (PrdDbusHub1 *object,
                           GDBusMethodInvocation *invocation,
                           const char *id,
                           const char *reason)
{
  return authorize (PRD_HUB_DBUS (object), invocation, disconnect_session);
}

static gboolean
handle_cancel_ai_job (PrdDbusHub1 *object, GDBusMethodInvocation *invocation, const char *id)
{
  return authorize (PRD_HUB_DBUS (object), invocation, cancel_ai_job);
}

static gboolean
handle_test_integration (PrdDbusHub1 *object,
                         GDBusMethodInvocation *invocation,
                         const char *organization,
                         const char *service)
{
  return authorize (PRD_HUB_DBUS (object), invocation, test_integration);
}

static gboolean
handle_create_version (PrdDbusHub1 *object,
                       GDBusMethodInvocation *invocation,
                       const char *prd_id,
                       const char *changelog)
{
  return authorize (PRD_HUB_DBUS (object), invocation, create_version);
}

static void
prd_hub_dbus_iface_init (PrdDbusHub1Iface *iface)
{
  iface->handle_list_sessions = handle_list_sessions;
  iface->handle_list_ai_jobs = handle_list_ai_jobs;
  iface->handle_list_integrations = handle_list_integrations;
  iface->handle_disconnect_session = handle_disconnect_session;
  iface->handle_cancel_ai_job = handle_cancel_ai_job;
  iface->handle_test_integration = handle_test_integration;
  iface->handle_create_version = handle_create_version;
}

/* ---- the bus ------------------------------------------------------------------- */

static void
unexport (PrdHubDbus *self)
{
  if (self->connection == NULL)
    return;
  g_dbus_interface_skeleton_unexport_from_connection (G_DBUS_INTERFACE_SKELETON (self),
                                                      self->connection);
  g_clear_object (&self->connection);
}

static void
on_name_acquired (GDBusConnection *connection, const char *name, gpointer user_data)
{
  PrdHubDbus *self = user_data;

  if (self->name_queued)
    g_message ("D-Bus: the process that owned %s left; this hub's admin interface is on", name);
  else
    g_debug ("D-Bus: owning %s on the session bus", name);
  self->name_queued = FALSE;
}

static void
on_name_lost (GDBusConnection *connection, const char *name, gpointer user_data)
{
  PrdHubDbus *self = user_data;

  if (connection == NULL || g_dbus_connection_is_closed (connection))
    {
      g_message ("D-Bus: lost the session bus; the admin interface is off");
      g_bus_unown_name (self->owner_id);
      self->owner_id = 0;
      unexport (self);
      g_signal_emit (self, signals[SIGNAL_BUS_CLOSED], 0);
      return;
    }
  /* Another process (a second hub of the same user) owns the name: the bus
   * keeps this hub in its queue and hands the name over when that process
   * releases it or exits. The object stays exported meanwhile, so that it
   * answers from the moment the name is ours. */
  if (!self->name_queued)
    g_message ("D-Bus: another process owns %s on the session bus; this hub's admin interface "
               "is off until it goes",
               name);
  self->name_queued = TRUE;
}

static void
on_bus (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (PrdHubDbus) self = user_data;
  g_autoptr (GDBusConnection) connection = NULL;
  g_autoptr (GError) error = NULL;

  connection = g_bus_get_finish (result, &error);
  if (connection == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_message ("No D-Bus session bus (%s): the admin interface is off", error->message);
      return;
    }
  if (self->hub == NULL)
    return;
  /* The hub outlives its user's session bus, e.g. as a system service. */
  g_dbus_connection_set_exit_on_close (connection, FALSE);
  if (!g_dbus_interface_skeleton_export (G_DBUS_INTERFACE_SKELETON (self), connection,
                                         PRD_HUB_DBUS_PATH, &error))
    {
      g_warning ("D-Bus: cannot export %s: %s", PRD_HUB_DBUS_PATH, error->message);
      return;
    }
  self->connection = g_steal_pointer (&connection);
  self->owner_id = g_bus_own_name_on_connection (self->connection, PRD_HUB_DBUS_NAME,
                                                 G_BUS_NAME_OWNER_FLAGS_NONE, on_name_acquired,
                                                 on_name_lost, self, NULL);
}

/* ---- object --------------------------------------------------------------------- */

static void
prd_hub_dbus_dispose (GObject *object)
{
  PrdHubDbus *self = PRD_HUB_DBUS (object);

  g_cancellable_cancel (self->cancellable);
  g_clear_handle_id (&self->tick_id, g_source_remove);
  /* The checks under way end with the cancellable, but only in a later
   * main-loop iteration, and a stopping hub may have none: their callers
   * hear now that the hub stops, before the process exits. */
  if (self->tests != NULL && self->tests->len > 0)
    {
      g_autoptr (GDBusConnection) connection =
          g_object_ref (g_dbus_method_invocation_get_connection (
              ((IntegrationTest *) g_ptr_array_index (self->tests, 0))->invocation));

      while (self->tests->len > 0)
        integration_test_answer (g_ptr_array_index (self->tests, 0), stopping_error ());
      g_dbus_connection_flush_sync (connection, NULL, NULL);
    }
  if (self->owner_id != 0)
    {
      g_bus_unown_name (self->owner_id);
      self->owner_id = 0;
    }
  unexport (self);
  if (self->hub != NULL)
    {
      PrdSioServer *sio = prd_hub_get_sio_server (self->hub);

      for (guint i = 0; i < G_N_ELEMENTS (namespaces); i++)
        {
          PrdSioNamespace *nsp = prd_sio_server_lookup (sio, namespaces[i]);

          if (nsp != NULL)
            g_signal_handlers_disconnect_by_data (nsp, self);
        }
      if (prd_sio_server_get_engine (sio) != NULL)
        g_signal_handlers_disconnect_by_data (prd_sio_server_get_engine (sio), self);
      if (prd_hub_get_rooms (self->hub) != NULL)
        g_signal_handlers_disconnect_by_data (prd_hub_get_rooms (self->hub), self);
      if (prd_hub_get_ai (self->hub) != NULL)
        g_signal_handlers_disconnect_by_data (prd_hub_get_ai (self->hub), self);
    }
  if (self->discovery != NULL)
    g_signal_handlers_disconnect_by_data (self->discovery, self);
  g_clear_object (&self->discovery);
  g_clear_object (&self->hub);

  G_OBJECT_CLASS (prd_hub_dbus_parent_class)->dispose (object);
}

static void
prd_hub_dbus_finalize (GObject *object)
{
  PrdHubDbus *self = PRD_HUB_DBUS (object);

  g_clear_object (&self->cancellable);
  g_clear_pointer (&self->dirty_jobs, g_hash_table_unref);
  g_clear_pointer (&self->finished, g_hash_table_unref);
  g_clear_pointer (&self->tests, g_ptr_array_unref);
  g_queue_clear_full (&self->finished_order, g_free);

  G_OBJECT_CLASS (prd_hub_dbus_parent_class)->finalize (object);
}

static void
prd_hub_dbus_class_init (PrdHubDbusClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GDBusInterfaceSkeletonClass *skeleton_class = G_DBUS_INTERFACE_SKELETON_CLASS (klass);

  object_class->dispose = prd_hub_dbus_dispose;
  skeleton_class->get_vtable = prd_hub_dbus_get_vtable;
  object_class->finalize = prd_hub_dbus_finalize;

  /**
   * PrdHubDbus::bus-closed:
   *
   * The session bus connection closed (the session ended, or the bus
   * went away): the admin interface is off for good.
   */
  signals[SIGNAL_BUS_CLOSED] =
      g_signal_new ("bus-closed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                    G_TYPE_NONE, 0);
}

static void
prd_hub_dbus_init (PrdHubDbus *self)
{
  self->cancellable = g_cancellable_new ();
  self->dirty_jobs =
      g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_variant_unref);
  self->finished =
      g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_variant_unref);
  g_queue_init (&self->finished_order);
  self->tests = g_ptr_array_new ();
  g_signal_connect (self, "g-authorize-method", G_CALLBACK (on_authorize_method), NULL);
}

static void
on_integration_status_changed (PrdIntegrationRegistry *registry,
                               const char *org,
                               const char *service,
                               PrdIntegration *integration,
                               gpointer user_data)
{
  prd_dbus_hub1_emit_integration_status_changed (
      PRD_DBUS_HUB1 (user_data), integration_to_variant (org, service, integration, NULL));
}

/**
 * prd_hub_dbus_new:
 * @hub: the hub to show (after prd_hub_set_store(), normally listening)
 *
 * Creates the admin interface of @hub and starts following its sessions
 * and AI jobs; prd_hub_dbus_start() puts it on the session bus. Its
 * #PrdDbusHub1:started-at is now.
 *
 * Returns: (transfer full): a new #PrdHubDbus
 */
PrdHubDbus *
prd_hub_dbus_new (PrdHub *hub)
{
  PrdHubDbus *self;
  PrdSioServer *sio;
  gboolean busy;

  g_return_val_if_fail (PRD_IS_HUB (hub), NULL);

  self = g_object_new (PRD_TYPE_HUB_DBUS, NULL);
  self->hub = g_object_ref (hub);
  self->started_at = g_get_real_time ();
  sio = prd_hub_get_sio_server (hub);
  for (guint i = 0; i < G_N_ELEMENTS (namespaces); i++)
    {
      PrdSioNamespace *nsp = prd_sio_server_of (sio, namespaces[i]);

      g_signal_connect (nsp, "connection", G_CALLBACK (on_connection), self);
      g_signal_connect (nsp, "disconnection", G_CALLBACK (on_disconnection), self);
    }
  g_signal_connect (prd_sio_server_get_engine (sio), "upgraded", G_CALLBACK (on_upgraded), self);
  if (prd_hub_get_rooms (hub) != NULL)
    {
      PrdHubRoomRegistry *rooms = prd_hub_get_rooms (hub);

      g_signal_connect (rooms, "member-joined", G_CALLBACK (on_member_joined), self);
      g_signal_connect (rooms, "member-left", G_CALLBACK (on_member_left), self);
      g_signal_connect (rooms, "member-changed", G_CALLBACK (on_member_changed), self);
    }
  if (prd_hub_get_ai (hub) != NULL)
    g_signal_connect (prd_hub_get_ai (hub), "job-changed", G_CALLBACK (on_job_changed), self);
  if (prd_hub_get_integration_registry (hub) != NULL)
    g_signal_connect_object (prd_hub_get_integration_registry (hub), "status-changed",
                             G_CALLBACK (on_integration_status_changed), self, 0);

  prd_dbus_hub1_set_version (PRD_DBUS_HUB1 (self), PACKAGE_VERSION);
  prd_dbus_hub1_set_started_at (PRD_DBUS_HUB1 (self), self->started_at);
  prd_dbus_hub1_set_listen_uri (PRD_DBUS_HUB1 (self), "");
  {
    GVariantDict off;

    g_variant_dict_init (&off, NULL);
    g_variant_dict_insert (&off, "state", "s", "off");
    g_variant_dict_insert (&off, "reason", "s", "LAN discovery is not enabled");
    prd_dbus_hub1_set_discovery (PRD_DBUS_HUB1 (self), g_variant_dict_end (&off));
  }
  update_properties (self, &busy);
  return self;
}

/**
 * prd_hub_dbus_start:
 *
 * Exports the interface on the session bus and owns `org.prdtool.Hub`,
 * asynchronously. Without a session bus it logs one message and the hub
 * goes on without it. When another process owns the name, it logs so and
 * waits in the bus's queue: the name is this hub's once that process
 * releases it or exits.
 */
void
prd_hub_dbus_start (PrdHubDbus *self)
{
  g_return_if_fail (PRD_IS_HUB_DBUS (self));
  g_return_if_fail (self->hub != NULL);

  g_bus_get (G_BUS_TYPE_SESSION, self->cancellable, on_bus, g_object_ref (self));
}

static void
on_discovery_changed (PrdHubDiscovery *discovery, gpointer user_data)
{
  schedule (PRD_HUB_DBUS (user_data));
}

/**
 * prd_hub_dbus_set_discovery:
 * @discovery: the hub's LAN announcement
 *
 * Shows @discovery's state as the Discovery property.
 */
void
prd_hub_dbus_set_discovery (PrdHubDbus *self, PrdHubDiscovery *discovery)
{
  g_return_if_fail (PRD_IS_HUB_DBUS (self));
  g_return_if_fail (PRD_IS_HUB_DISCOVERY (discovery));
  g_return_if_fail (self->discovery == NULL);

  self->discovery = g_object_ref (discovery);
  g_signal_connect (discovery, "changed", G_CALLBACK (on_discovery_changed), self);
  schedule (self);
}
