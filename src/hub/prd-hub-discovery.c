/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * LAN discovery through Avahi's D-Bus API on the system bus (no library
 * needed): a hub that listens on a non-loopback address announces itself
 * as a DNS-SD service of type `_prdhub._tcp` with the TXT records
 * `path=/socket.io/`, `tls=0|1`, `version=…` and `name=…`; `prdhub
 * discover` browses for them and resolves each to a URL.
 *
 * Without a system bus or avahi-daemon the hub logs one message and serves
 * as usual. A name already taken on the LAN is retried as "name #2", "#3"…
 * The entry group belongs to our bus connection, so Avahi withdraws the
 * announcement when the hub exits, however it exits.
 */
#define G_LOG_DOMAIN "prd-hub-discovery"

#include "config.h"

#include <string.h>

#include "prd-error.h"

#include "prd-hub-discovery.h"

#define AVAHI_NAME            "org.freedesktop.Avahi"
#define AVAHI_SERVER          "org.freedesktop.Avahi.Server"
#define AVAHI_ENTRY_GROUP     "org.freedesktop.Avahi.EntryGroup"
#define AVAHI_SERVICE_BROWSER "org.freedesktop.Avahi.ServiceBrowser"
#define AVAHI_IF_UNSPEC       (-1)
#define AVAHI_PROTO_UNSPEC    (-1)
#define AVAHI_PROTO_INET6     1
#define MAX_COLLISIONS        10

/* AvahiEntryGroupState */
enum
{
  GROUP_UNCOMMITED,
  GROUP_REGISTERING,
  GROUP_ESTABLISHED,
  GROUP_COLLISION,
  GROUP_FAILURE,
};

struct _PrdHubDiscovery
{
  GObject parent_instance;

  char *name; /* (owned) as configured */
  char *listen_host;
  guint16 port;
  gboolean tls;

  GCancellable *cancellable; /* (owned) */
  GDBusConnection *bus;      /* (owned) (nullable) */
  char *group_path;          /* (owned) (nullable) */
  guint state_subscription;
  guint collisions;
  char *state;          /* "off", "publishing", "published", "failed" */
  char *reason;         /* (owned) (nullable) */
  char *published_name; /* (owned) (nullable): the name tried or in use */
};

enum
{
  SIGNAL_CHANGED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (PrdHubDiscovery, prd_hub_discovery, G_TYPE_OBJECT)

static void
set_state (PrdHubDiscovery *self, const char *state, const char *reason)
{
  g_free (self->state);
  self->state = g_strdup (state);
  g_free (self->reason);
  self->reason = g_strdup (reason);
  g_signal_emit (self, signals[SIGNAL_CHANGED], 0);
}

static void
fail (PrdHubDiscovery *self, const char *reason)
{
  g_message ("Not announced on the LAN: %s", reason);
  set_state (self, "failed", reason);
}

static GVariant *
build_txt (PrdHubDiscovery *self, const char *name)
{
  g_autofree char *version = g_strconcat ("version=", PACKAGE_VERSION, NULL);
  g_autofree char *name_record = g_strconcat ("name=", name, NULL);
  const char *records[] = { "path=/socket.io/", self->tls ? "tls=1" : "tls=0", version,
                            name_record };
  GVariantBuilder builder;

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("aay"));
  for (guint i = 0; i < G_N_ELEMENTS (records); i++)
    g_variant_builder_add_value (
        &builder,
        g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, records[i], strlen (records[i]), 1));
  return g_variant_builder_end (&builder);
}

static void
error_reason (const GError *error, char **out)
{
  g_autofree char *remote = g_dbus_error_get_remote_error (error);

  if (g_strcmp0 (remote, "org.freedesktop.DBus.Error.ServiceUnknown") == 0 ||
      g_strcmp0 (remote, "org.freedesktop.DBus.Error.NameHasNoOwner") == 0)
    *out = g_strdup ("avahi-daemon is not running");
  else
    {
      g_autoptr (GError) copy = g_error_copy (error);

      g_dbus_error_strip_remote_error (copy);
      *out = g_strdup_printf ("Avahi: %s", copy->message);
    }
}

static void
on_committed (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (PrdHubDiscovery) self = user_data;
  g_autoptr (GVariant) reply = NULL;
  g_autoptr (GError) error = NULL;

  reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &error);
  if (reply == NULL && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_autofree char *reason = NULL;

      error_reason (error, &reason);
      fail (self, reason);
    }
}

static void
on_added (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (PrdHubDiscovery) self = user_data;
  g_autoptr (GVariant) reply = NULL;
  g_autoptr (GError) error = NULL;

  reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &error);
  if (reply == NULL)
    {
      g_autofree char *reason = NULL;

      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      error_reason (error, &reason);
      fail (self, reason);
      return;
    }
  g_dbus_connection_call (self->bus, AVAHI_NAME, self->group_path, AVAHI_ENTRY_GROUP, "Commit",
                          NULL, NULL, G_DBUS_CALL_FLAGS_NONE, -1, self->cancellable, on_committed,
                          g_object_ref (self));
}

static void
add_service (PrdHubDiscovery *self)
{
  g_debug ("Announcing \"%s\" (%s, port %u) through Avahi", self->published_name,
           PRD_HUB_DISCOVERY_TYPE, self->port);
  g_dbus_connection_call (self->bus, AVAHI_NAME, self->group_path, AVAHI_ENTRY_GROUP, "AddService",
                          g_variant_new ("(iiussssq@aay)", AVAHI_IF_UNSPEC, AVAHI_PROTO_UNSPEC, 0u,
                                         self->published_name, PRD_HUB_DISCOVERY_TYPE, "", "",
                                         self->port, build_txt (self, self->published_name)),
                          NULL, G_DBUS_CALL_FLAGS_NONE, -1, self->cancellable, on_added,
                          g_object_ref (self));
}

static void
on_reset (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (PrdHubDiscovery) self = user_data;
  g_autoptr (GVariant) reply = NULL;
  g_autoptr (GError) error = NULL;

  reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &error);
  if (reply == NULL)
    {
      g_autofree char *reason = NULL;

      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      error_reason (error, &reason);
      fail (self, reason);
      return;
    }
  add_service (self);
}

static void
on_state_changed (GDBusConnection *connection,
                  const char *sender,
                  const char *path,
                  const char *interface,
                  const char *signal,
                  GVariant *parameters,
                  gpointer user_data)
{
  PrdHubDiscovery *self = user_data;
  const char *error = NULL;
  int state;

  if (!g_variant_is_of_type (parameters, G_VARIANT_TYPE ("(is)")))
    return;
  g_variant_get (parameters, "(i&s)", &state, &error);
  switch (state)
    {
      case GROUP_ESTABLISHED:
        g_message ("Announced on the LAN as \"%s\" (%s)", self->published_name,
                   PRD_HUB_DISCOVERY_TYPE);
        set_state (self, "published", NULL);
        break;
      case GROUP_COLLISION:
        if (++self->collisions > MAX_COLLISIONS)
          {
            fail (self, "every name tried is taken on the LAN");
            break;
          }
        g_free (self->published_name);
        self->published_name = g_strdup_printf ("%s #%u", self->name, self->collisions + 1);
        g_dbus_connection_call (self->bus, AVAHI_NAME, self->group_path, AVAHI_ENTRY_GROUP, "Reset",
                                NULL, NULL, G_DBUS_CALL_FLAGS_NONE, -1, self->cancellable, on_reset,
                                g_object_ref (self));
        break;
      case GROUP_FAILURE:
        {
          g_autofree char *reason = g_strdup_printf ("Avahi: %s", error);

          fail (self, reason);
        }
        break;
      default:
        break;
    }
}

static void
on_group (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (PrdHubDiscovery) self = user_data;
  g_autoptr (GVariant) reply = NULL;
  g_autoptr (GError) error = NULL;

  reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &error);
  if (reply == NULL)
    {
      g_autofree char *reason = NULL;

      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      error_reason (error, &reason);
      fail (self, reason);
      return;
    }
  g_variant_get (reply, "(o)", &self->group_path);
  self->state_subscription = g_dbus_connection_signal_subscribe (
      self->bus, AVAHI_NAME, AVAHI_ENTRY_GROUP, "StateChanged", self->group_path, NULL,
      G_DBUS_SIGNAL_FLAGS_NONE, on_state_changed, self, NULL);
  add_service (self);
}

static void
on_bus (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (PrdHubDiscovery) self = user_data;
  g_autoptr (GError) error = NULL;

  self->bus = g_bus_get_finish (result, &error);
  if (self->bus == NULL)
    {
      g_autofree char *reason = NULL;

      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      reason = g_strdup_printf ("no system bus (%s)", error->message);
      fail (self, reason);
      return;
    }
  g_dbus_connection_set_exit_on_close (self->bus, FALSE);
  g_dbus_connection_call (self->bus, AVAHI_NAME, "/", AVAHI_SERVER, "EntryGroupNew", NULL,
                          G_VARIANT_TYPE ("(o)"), G_DBUS_CALL_FLAGS_NONE, -1, self->cancellable,
                          on_group, g_object_ref (self));
}

static gboolean
is_loopback (const char *host)
{
  g_autoptr (GInetAddress) address = NULL;

  if (g_str_equal (host, "localhost"))
    return TRUE;
  address = g_inet_address_new_from_string (host);
  return address != NULL && g_inet_address_get_is_loopback (address);
}

static void
prd_hub_discovery_dispose (GObject *object)
{
  PrdHubDiscovery *self = PRD_HUB_DISCOVERY (object);

  g_cancellable_cancel (self->cancellable);
  if (self->state_subscription != 0)
    {
      g_dbus_connection_signal_unsubscribe (self->bus, self->state_subscription);
      self->state_subscription = 0;
    }
  /* Withdraws the announcement now rather than when the connection goes. */
  if (self->bus != NULL && self->group_path != NULL && !g_dbus_connection_is_closed (self->bus))
    g_dbus_connection_call (self->bus, AVAHI_NAME, self->group_path, AVAHI_ENTRY_GROUP, "Free",
                            NULL, NULL, G_DBUS_CALL_FLAGS_NO_AUTO_START, -1, NULL, NULL, NULL);
  g_clear_object (&self->bus);

  G_OBJECT_CLASS (prd_hub_discovery_parent_class)->dispose (object);
}

static void
prd_hub_discovery_finalize (GObject *object)
{
  PrdHubDiscovery *self = PRD_HUB_DISCOVERY (object);

  g_clear_object (&self->cancellable);
  g_free (self->name);
  g_free (self->listen_host);
  g_free (self->group_path);
  g_free (self->state);
  g_free (self->reason);
  g_free (self->published_name);

  G_OBJECT_CLASS (prd_hub_discovery_parent_class)->finalize (object);
}

static void
prd_hub_discovery_class_init (PrdHubDiscoveryClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = prd_hub_discovery_dispose;
  object_class->finalize = prd_hub_discovery_finalize;

  /**
   * PrdHubDiscovery::changed:
   *
   * The announcement's state changed (see prd_hub_discovery_get_state()).
   */
  signals[SIGNAL_CHANGED] = g_signal_new ("changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                          0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
prd_hub_discovery_init (PrdHubDiscovery *self)
{
  self->cancellable = g_cancellable_new ();
  self->state = g_strdup ("off");
}

/**
 * prd_hub_discovery_new:
 * @name: the name to announce, e.g. from prd_hub_discovery_default_name()
 * @listen_host: the address the hub listens on (as configured)
 * @port: the port it really listens on
 * @tls: whether it serves https/wss
 *
 * Returns: (transfer full): a discovery, not yet started
 */
PrdHubDiscovery *
prd_hub_discovery_new (const char *name, const char *listen_host, guint16 port, gboolean tls)
{
  PrdHubDiscovery *self;

  g_return_val_if_fail (name != NULL && *name != '\0', NULL);
  g_return_val_if_fail (listen_host != NULL, NULL);

  self = g_object_new (PRD_TYPE_HUB_DISCOVERY, NULL);
  /* A DNS-SD instance name is at most 63 bytes, cut at a character. */
  self->name = g_utf8_make_valid (name, -1);
  if (strlen (self->name) > 63)
    *g_utf8_find_prev_char (self->name, self->name + 64) = '\0';
  self->published_name = g_strdup (self->name);
  self->listen_host = g_strdup (listen_host);
  self->port = port;
  self->tls = tls;
  return self;
}

/**
 * prd_hub_discovery_start:
 *
 * Announces the hub, asynchronously, unless it listens on a loopback
 * address only (nobody on the LAN could reach it).
 */
void
prd_hub_discovery_start (PrdHubDiscovery *self)
{
  g_return_if_fail (PRD_IS_HUB_DISCOVERY (self));

  if (is_loopback (self->listen_host))
    {
      g_debug ("Not announced on the LAN: listening on %s only", self->listen_host);
      set_state (self, "off", "The hub listens on a loopback address only");
      return;
    }
  set_state (self, "publishing", NULL);
  g_bus_get (G_BUS_TYPE_SYSTEM, self->cancellable, on_bus, g_object_ref (self));
}

/**
 * prd_hub_discovery_get_state:
 *
 * Returns: (transfer full): a floating a{sv}: state (s: off, publishing,
 *   published, failed), reason (s, when off or failed), name (s), type
 *   (s), port (q), txt (as)
 */
GVariant *
prd_hub_discovery_get_state (PrdHubDiscovery *self)
{
  g_autofree char *version = g_strconcat ("version=", PACKAGE_VERSION, NULL);
  g_autofree char *name_record = NULL;
  GVariantBuilder txt;
  GVariantDict dict;

  g_return_val_if_fail (PRD_IS_HUB_DISCOVERY (self), NULL);

  name_record = g_strconcat ("name=", self->published_name, NULL);
  g_variant_builder_init (&txt, G_VARIANT_TYPE_STRING_ARRAY);
  g_variant_builder_add (&txt, "s", "path=/socket.io/");
  g_variant_builder_add (&txt, "s", self->tls ? "tls=1" : "tls=0");
  g_variant_builder_add (&txt, "s", version);
  g_variant_builder_add (&txt, "s", name_record);
  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "state", "s", self->state);
  if (self->reason != NULL)
    g_variant_dict_insert (&dict, "reason", "s", self->reason);
  g_variant_dict_insert (&dict, "name", "s", self->published_name);
  g_variant_dict_insert (&dict, "type", "s", PRD_HUB_DISCOVERY_TYPE);
  g_variant_dict_insert (&dict, "port", "q", self->port);
  g_variant_dict_insert_value (&dict, "txt", g_variant_builder_end (&txt));
  return g_variant_dict_end (&dict);
}

/**
 * prd_hub_discovery_default_name:
 *
 * Returns: (transfer full): "prdhub on HOSTNAME"
 */
char *
prd_hub_discovery_default_name (void)
{
  return g_strdup_printf ("prdhub on %s", g_get_host_name ());
}

/* ---- browsing ------------------------------------------------------------------- */

void
prd_hub_found_free (PrdHubFound *found)
{
  g_free (found->name);
  g_free (found->url);
  g_free (found->version);
  g_free (found);
}

typedef struct
{
  GDBusConnection *bus; /* (owned) (nullable) */
  char *browser_path;   /* (nullable) until ServiceBrowserNew answers */
  GPtrArray *items;     /* (element-type GVariant): ItemNew before the path was known */
  GPtrArray *found;     /* (element-type PrdHubFound) */
  GHashTable *urls;     /* seen URLs */
  guint timeout_ms;
  GSource *timeout; /* (owned) (nullable) */
  guint subscription;
  guint pending; /* ResolveService calls under way */
  gboolean all_for_now;
  gboolean timed_out;
  gboolean finishing; /* the browser is freed; waiting for pending resolutions */
  gboolean returned;
  char *failure;
} Browse;

static void
browse_free (Browse *browse)
{
  if (browse->timeout != NULL)
    g_source_destroy (browse->timeout);
  g_clear_pointer (&browse->timeout, g_source_unref);
  g_clear_pointer (&browse->items, g_ptr_array_unref);
  g_clear_pointer (&browse->found, g_ptr_array_unref);
  g_clear_pointer (&browse->urls, g_hash_table_unref);
  g_free (browse->browser_path);
  g_free (browse->failure);
  g_clear_object (&browse->bus);
  g_free (browse);
}

static char *
txt_value (GVariant *txt, const char *key)
{
  gsize key_len = strlen (key);

  for (gsize i = 0; i < g_variant_n_children (txt); i++)
    {
      g_autoptr (GVariant) record = g_variant_get_child_value (txt, i);
      gsize len;
      const char *data = g_variant_get_fixed_array (record, &len, 1);

      if (len > key_len && strncmp (data, key, key_len) == 0 && data[key_len] == '=')
        return g_strndup (data + key_len + 1, len - key_len - 1);
    }
  return NULL;
}

static int
compare_found (gconstpointer a, gconstpointer b)
{
  const PrdHubFound *found_a = *(PrdHubFound *const *) a;
  const PrdHubFound *found_b = *(PrdHubFound *const *) b;
  int by_name = g_utf8_collate (found_a->name, found_b->name);

  return by_name != 0 ? by_name : g_strcmp0 (found_a->url, found_b->url);
}

/* Ends the browse once Avahi said everything it knows was reported (and
 * every report is resolved), on a failure, or at the timeout; answers once
 * the resolutions still under way have landed. */
static void
check_done (GTask *task)
{
  Browse *browse = g_task_get_task_data (task);

  if (browse->returned)
    return;
  if (!browse->finishing &&
      (browse->timed_out || browse->failure != NULL ||
       (browse->browser_path != NULL && browse->all_for_now && browse->pending == 0) ||
       g_task_return_error_if_cancelled (task)))
    {
      browse->finishing = TRUE;
      if (browse->timeout != NULL)
        g_source_destroy (browse->timeout);
      if (browse->subscription != 0)
        g_dbus_connection_signal_unsubscribe (browse->bus, browse->subscription);
      browse->subscription = 0;
      if (browse->browser_path != NULL)
        g_dbus_connection_call (browse->bus, AVAHI_NAME, browse->browser_path,
                                AVAHI_SERVICE_BROWSER, "Free", NULL, NULL, G_DBUS_CALL_FLAGS_NONE,
                                1000, NULL, NULL, NULL);
      if (g_task_had_error (task))
        browse->returned = TRUE;
    }
  if (!browse->finishing || browse->pending > 0 || browse->returned)
    return;
  browse->returned = TRUE;
  if (browse->failure != NULL)
    {
      g_task_return_new_error (task, PRD_ERROR, PRD_ERROR_INTERNAL, "Avahi: %s", browse->failure);
      return;
    }
  g_ptr_array_sort (browse->found, compare_found);
  g_task_return_pointer (task, g_steal_pointer (&browse->found),
                         (GDestroyNotify) g_ptr_array_unref);
}

static void
on_resolved (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  Browse *browse = g_task_get_task_data (task);
  g_autoptr (GVariant) reply = NULL;
  g_autoptr (GVariant) txt = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *tls = NULL;
  const char *name, *address;
  guint16 port;
  int aprotocol;
  PrdHubFound *found;
  char *url;

  browse->pending--;
  reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &error);
  if (reply == NULL)
    g_debug ("Cannot resolve a hub: %s", error->message);
  else if (!browse->returned)
    {
      g_variant_get (reply, "(ii&s&s&s&si&sq@aayu)", NULL, NULL, &name, NULL, NULL, NULL,
                     &aprotocol, &address, &port, &txt, NULL);
      tls = txt_value (txt, "tls");
      url = g_strdup_printf (aprotocol == AVAHI_PROTO_INET6 ? "%s://[%s]:%u/" : "%s://%s:%u/",
                             g_strcmp0 (tls, "1") == 0 ? "https" : "http", address, port);
      if (g_hash_table_contains (browse->urls, url))
        g_free (url);
      else
        {
          g_hash_table_add (browse->urls, url);
          found = g_new0 (PrdHubFound, 1);
          found->name = g_strdup (name);
          found->url = g_strdup (url);
          found->version = txt_value (txt, "version");
          g_ptr_array_add (browse->found, found);
        }
    }
  check_done (task);
}

static void
resolve_item (GTask *task, GVariant *item)
{
  Browse *browse = g_task_get_task_data (task);
  const char *name, *type, *domain;
  int interface, protocol;

  g_variant_get (item, "(ii&s&s&su)", &interface, &protocol, &name, &type, &domain, NULL);
  browse->pending++;
  g_dbus_connection_call (
      browse->bus, AVAHI_NAME, "/", AVAHI_SERVER, "ResolveService",
      g_variant_new ("(iisssiu)", interface, protocol, name, type, domain, AVAHI_PROTO_UNSPEC, 0u),
      G_VARIANT_TYPE ("(iissssisqaayu)"), G_DBUS_CALL_FLAGS_NONE, 5000, NULL, on_resolved,
      g_object_ref (task));
}

static void
on_browser_signal (GDBusConnection *connection,
                   const char *sender,
                   const char *path,
                   const char *interface,
                   const char *signal,
                   GVariant *parameters,
                   gpointer user_data)
{
  GTask *task = user_data;
  Browse *browse = g_task_get_task_data (task);

  if (browse->finishing)
    return;
  /* Subscribed before the browser existed (Avahi may signal at once):
   * items are kept until the browser's path is known. */
  if (browse->browser_path != NULL && !g_str_equal (path, browse->browser_path))
    return;
  if (g_str_equal (signal, "ItemNew") &&
      g_variant_is_of_type (parameters, G_VARIANT_TYPE ("(iisssu)")))
    {
      if (browse->browser_path == NULL)
        g_ptr_array_add (browse->items, g_variant_ref (parameters));
      else
        resolve_item (task, parameters);
    }
  else if (g_str_equal (signal, "AllForNow"))
    browse->all_for_now = TRUE;
  else if (g_str_equal (signal, "Failure") && browse->failure == NULL)
    browse->failure = g_strdup ("browsing failed");
  check_done (task);
}

static gboolean
on_timeout (gpointer user_data)
{
  GTask *task = user_data;
  Browse *browse = g_task_get_task_data (task);

  browse->timed_out = TRUE;
  check_done (task);
  return G_SOURCE_REMOVE;
}

static void
on_browser_created (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  Browse *browse = g_task_get_task_data (task);
  g_autoptr (GVariant) reply = NULL;
  g_autoptr (GError) error = NULL;

  reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &error);
  if (reply == NULL)
    {
      g_autofree char *reason = NULL;

      error_reason (error, &reason);
      g_dbus_connection_signal_unsubscribe (browse->bus, browse->subscription);
      browse->subscription = 0;
      browse->returned = TRUE;
      g_task_return_new_error (task, PRD_ERROR, PRD_ERROR_INTERNAL, "%s", reason);
      return;
    }
  g_variant_get (reply, "(o)", &browse->browser_path);
  browse->timeout = g_timeout_source_new (browse->timeout_ms);
  g_source_set_callback (browse->timeout, on_timeout, g_object_ref (task), g_object_unref);
  g_source_attach (browse->timeout, g_task_get_context (task));

  /* Items that came before the path are the browser's, or another one's
   * of the same type that would report the same services. */
  for (guint i = 0; i < browse->items->len; i++)
    resolve_item (task, g_ptr_array_index (browse->items, i));
  check_done (task);
}

static void
on_browse_bus (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  Browse *browse = g_task_get_task_data (task);
  GCancellable *cancellable;
  g_autoptr (GError) error = NULL;

  browse->bus = g_bus_get_finish (result, &error);
  if (browse->bus == NULL)
    {
      browse->returned = TRUE;
      g_task_return_new_error (task, PRD_ERROR, PRD_ERROR_INTERNAL, "No system bus: %s",
                               error->message);
      return;
    }
  /* Read before the task is handed on: argument order is unspecified. */
  cancellable = g_task_get_cancellable (task);
  browse->subscription = g_dbus_connection_signal_subscribe (
      browse->bus, AVAHI_NAME, AVAHI_SERVICE_BROWSER, NULL, NULL, NULL, G_DBUS_SIGNAL_FLAGS_NONE,
      on_browser_signal, g_object_ref (task), g_object_unref);
  g_dbus_connection_call (browse->bus, AVAHI_NAME, "/", AVAHI_SERVER, "ServiceBrowserNew",
                          g_variant_new ("(iissu)", AVAHI_IF_UNSPEC, AVAHI_PROTO_UNSPEC,
                                         PRD_HUB_DISCOVERY_TYPE, "", 0u),
                          G_VARIANT_TYPE ("(o)"), G_DBUS_CALL_FLAGS_NONE, -1, cancellable,
                          on_browser_created, g_steal_pointer (&task));
}

/**
 * prd_hub_discover_async:
 * @timeout_ms: how long to wait for answers at most
 *
 * Browses the LAN for hubs through Avahi and resolves them. Completes when
 * Avahi has said everything it knows was reported and resolved, or after
 * @timeout_ms.
 */
void
prd_hub_discover_async (guint timeout_ms,
                        GCancellable *cancellable,
                        GAsyncReadyCallback callback,
                        gpointer user_data)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);
  Browse *browse = g_new0 (Browse, 1);

  g_task_set_source_tag (task, prd_hub_discover_async);
  browse->timeout_ms = timeout_ms;
  browse->items = g_ptr_array_new_with_free_func ((GDestroyNotify) g_variant_unref);
  browse->found = g_ptr_array_new_with_free_func ((GDestroyNotify) prd_hub_found_free);
  browse->urls = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_task_set_task_data (task, browse, (GDestroyNotify) browse_free);
  g_bus_get (G_BUS_TYPE_SYSTEM, cancellable, on_browse_bus, task);
}

/**
 * prd_hub_discover_finish:
 *
 * Returns: (transfer container) (element-type PrdHubFound): the hubs found,
 *   sorted by name; %NULL with @error set without a system bus or Avahi
 */
GPtrArray *
prd_hub_discover_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
