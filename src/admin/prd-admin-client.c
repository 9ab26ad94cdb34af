/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * PrdAdminClient: the admin app's one link to the hub. It watches the name
 * org.prdtool.Hub on the session bus and, while a hub owns it, holds the
 * generated proxy bound to that hub's unique name, so that a hub that
 * stops and another that starts are never mixed up. The pages follow the
 * "proxy" and "state" properties.
 */
#define G_LOG_DOMAIN "prd-admin"

#include "config.h"

#include <glib/gi18n.h>

#include "prd-error.h"

#include "prd-admin-client.h"

struct _PrdAdminClient
{
  GObject parent_instance;

  guint watch_id;
  PrdAdminClientState state;
  PrdDbusHub1 *proxy;        /* (owned) (nullable) */
  GCancellable *cancellable; /* (owned) (nullable): the proxy being made */
  GError *error;             /* (owned) (nullable): why the hub that runs cannot be read */
};

enum
{
  PROP_0,
  PROP_STATE,
  PROP_PROXY,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

G_DEFINE_FINAL_TYPE (PrdAdminClient, prd_admin_client, G_TYPE_OBJECT)

static void
set_state (PrdAdminClient *self, PrdAdminClientState state, PrdDbusHub1 *proxy)
{
  gboolean proxy_changed = self->proxy != proxy;

  if (state != PRD_ADMIN_CLIENT_UNREADABLE)
    g_clear_error (&self->error);
  g_object_freeze_notify (G_OBJECT (self));
  if (proxy_changed)
    {
      g_set_object (&self->proxy, proxy);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PROXY]);
    }
  if (self->state != state)
    {
      self->state = state;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
    }
  g_object_thaw_notify (G_OBJECT (self));
}

/* The hub's own answer to GetAll, when the proxy got none: GDBusProxy
 * drops the error of its GetAll, and a hub that refuses the caller (another
 * user's: Forbidden) or a process that owns the name without the interface
 * would look like a hub with nothing to show. */
static void on_proxy (GObject *source, GAsyncResult *result, gpointer user_data);

static void
on_get_all (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GDBusProxy) proxy = user_data;
  PrdAdminClient *self;
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) reply =
      g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  self = g_object_get_data (G_OBJECT (proxy), "prd-admin-client");
  if (error == NULL)
    {
      g_autoptr (GVariant) values = g_variant_get_child_value (reply, 0);

      if (g_variant_n_children (values) > 0)
        {
          /* It answers now (it was starting): a new proxy reads it. */
          prd_dbus_hub1_proxy_new (G_DBUS_CONNECTION (source), G_DBUS_PROXY_FLAGS_DO_NOT_AUTO_START,
                                   g_dbus_proxy_get_name (proxy), PRD_ADMIN_HUB_PATH,
                                   self->cancellable, on_proxy, g_object_ref (self));
          return;
        }
      g_set_error_literal (&error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_INTERFACE,
                           _ ("It has none of the hub’s properties"));
    }
  g_clear_object (&self->cancellable);
  g_message ("Cannot read the hub: %s", error->message);
  g_clear_error (&self->error);
  self->error = g_steal_pointer (&error);
  set_state (self, PRD_ADMIN_CLIENT_UNREADABLE, NULL);
}

static void
on_proxy (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (PrdAdminClient) self = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (PrdDbusHub1) proxy = prd_dbus_hub1_proxy_new_finish (result, &error);
  g_auto (GStrv) names = NULL;

  if (proxy == NULL)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      g_warning ("Cannot talk to the hub: %s", error->message);
      set_state (self, PRD_ADMIN_CLIENT_NO_HUB, NULL);
      return;
    }
  names = g_dbus_proxy_get_cached_property_names (G_DBUS_PROXY (proxy));
  if (names == NULL || names[0] == NULL)
    {
      /* Its GetAll failed (or the hub has no properties at all): ask
       * again, for the reason. */
      g_object_set_data_full (G_OBJECT (proxy), "prd-admin-client", g_object_ref (self),
                              g_object_unref);
      g_dbus_connection_call (
          g_dbus_proxy_get_connection (G_DBUS_PROXY (proxy)),
          g_dbus_proxy_get_name (G_DBUS_PROXY (proxy)), PRD_ADMIN_HUB_PATH,
          "org.freedesktop.DBus.Properties", "GetAll",
          g_variant_new ("(s)", g_dbus_proxy_get_interface_name (G_DBUS_PROXY (proxy))),
          G_VARIANT_TYPE ("(a{sv})"), G_DBUS_CALL_FLAGS_NO_AUTO_START, -1, self->cancellable,
          on_get_all, g_object_ref (proxy));
      return;
    }
  g_clear_object (&self->cancellable);
  set_state (self, PRD_ADMIN_CLIENT_CONNECTED, proxy);
}

static void
on_appeared (GDBusConnection *connection,
             const char *name,
             const char *name_owner,
             gpointer user_data)
{
  PrdAdminClient *self = user_data;

  g_debug ("The hub appeared as %s", name_owner);
  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  self->cancellable = g_cancellable_new ();
  /* Bound to this owner: calls never start or reach another hub. */
  prd_dbus_hub1_proxy_new (connection, G_DBUS_PROXY_FLAGS_DO_NOT_AUTO_START, name_owner,
                           PRD_ADMIN_HUB_PATH, self->cancellable, on_proxy, g_object_ref (self));
}

static void
on_vanished (GDBusConnection *connection, const char *name, gpointer user_data)
{
  PrdAdminClient *self = user_data;

  g_debug ("No hub owns %s", name);
  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  set_state (self, PRD_ADMIN_CLIENT_NO_HUB, NULL);
}

static void
prd_admin_client_dispose (GObject *object)
{
  PrdAdminClient *self = PRD_ADMIN_CLIENT (object);

  if (self->watch_id != 0)
    {
      g_bus_unwatch_name (self->watch_id);
      self->watch_id = 0;
    }
  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->proxy);
  g_clear_error (&self->error);

  G_OBJECT_CLASS (prd_admin_client_parent_class)->dispose (object);
}

static void
prd_admin_client_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  PrdAdminClient *self = PRD_ADMIN_CLIENT (object);

  switch (prop_id)
    {
      case PROP_STATE:
        g_value_set_int (value, self->state);
        break;
      case PROP_PROXY:
        g_value_set_object (value, self->proxy);
        break;
      default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
prd_admin_client_class_init (PrdAdminClientClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = prd_admin_client_dispose;
  object_class->get_property = prd_admin_client_get_property;

  /**
   * PrdAdminClient:state:
   *
   * A #PrdAdminClientState: connecting until the bus has answered, then
   * connected, no hub, or unreadable (a hub runs and does not answer:
   * #PrdAdminClient:error says why).
   */
  properties[PROP_STATE] =
      g_param_spec_int ("state", NULL, NULL, PRD_ADMIN_CLIENT_CONNECTING,
                        PRD_ADMIN_CLIENT_UNREADABLE, PRD_ADMIN_CLIENT_CONNECTING,
                        G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  /**
   * PrdAdminClient:proxy:
   *
   * The hub, while one runs.
   */
  properties[PROP_PROXY] =
      g_param_spec_object ("proxy", NULL, NULL, PRD_DBUS_TYPE_HUB1,
                           G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
prd_admin_client_init (PrdAdminClient *self)
{
  /* Remote errors come back as PRD_ERROR codes once the domain is known. */
  (void) PRD_ERROR;
  self->state = PRD_ADMIN_CLIENT_CONNECTING;
  self->watch_id =
      g_bus_watch_name (G_BUS_TYPE_SESSION, PRD_ADMIN_HUB_NAME, G_BUS_NAME_WATCHER_FLAGS_NONE,
                        on_appeared, on_vanished, self, NULL);
}

PrdAdminClient *
prd_admin_client_new (void)
{
  return g_object_new (PRD_TYPE_ADMIN_CLIENT, NULL);
}

PrdAdminClientState
prd_admin_client_get_state (PrdAdminClient *self)
{
  g_return_val_if_fail (PRD_IS_ADMIN_CLIENT (self), PRD_ADMIN_CLIENT_NO_HUB);

  return self->state;
}

/**
 * prd_admin_client_get_error:
 *
 * Returns: (transfer none) (nullable): why the hub that owns the name
 *   cannot be read, in the unreadable state: PRD_ERROR_FORBIDDEN when it
 *   refuses this user
 */
const GError *
prd_admin_client_get_error (PrdAdminClient *self)
{
  g_return_val_if_fail (PRD_IS_ADMIN_CLIENT (self), NULL);

  return self->error;
}

/**
 * prd_admin_client_get_proxy:
 *
 * Returns: (transfer none) (nullable): the running hub
 */
PrdDbusHub1 *
prd_admin_client_get_proxy (PrdAdminClient *self)
{
  g_return_val_if_fail (PRD_IS_ADMIN_CLIENT (self), NULL);

  return self->proxy;
}

static void
on_started (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  g_autoptr (GVariant) reply = NULL;
  GError *error = NULL;

  reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &error);
  if (reply == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

static void
on_bus_for_start (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  g_autoptr (GDBusConnection) bus = NULL;
  GError *error = NULL;

  bus = g_bus_get_finish (result, &error);
  if (bus == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  /* The session bus starts it from org.prdtool.Hub.service, which hands
   * over to the systemd user unit prdhub.service. */
  g_dbus_connection_call (
      bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
      "StartServiceByName", g_variant_new ("(su)", PRD_ADMIN_HUB_NAME, 0), G_VARIANT_TYPE ("(u)"),
      G_DBUS_CALL_FLAGS_NONE, -1, g_task_get_cancellable (task), on_started, g_object_ref (task));
}

/**
 * prd_admin_client_start_hub_async:
 *
 * Asks the session bus to start the hub (D-Bus activation of
 * org.prdtool.Hub, which starts the systemd user unit).
 */
void
prd_admin_client_start_hub_async (PrdAdminClient *self,
                                  GCancellable *cancellable,
                                  GAsyncReadyCallback callback,
                                  gpointer user_data)
{
  g_autoptr (GTask) task = g_task_new (self, cancellable, callback, user_data);

  g_return_if_fail (PRD_IS_ADMIN_CLIENT (self));

  g_task_set_source_tag (task, prd_admin_client_start_hub_async);
  g_bus_get (G_BUS_TYPE_SESSION, cancellable, on_bus_for_start, g_steal_pointer (&task));
}

gboolean
prd_admin_client_start_hub_finish (PrdAdminClient *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * prd_admin_error_message:
 *
 * Returns: (transfer full): @error's message for people, without the
 *   D-Bus error name GDBus puts in front of it
 */
char *
prd_admin_error_message (const GError *error)
{
  g_autoptr (GError) copy = g_error_copy (error);

  g_dbus_error_strip_remote_error (copy);
  return g_strdup (copy->message);
}
