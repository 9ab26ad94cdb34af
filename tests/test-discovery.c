/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * LAN discovery against a fake avahi-daemon: this process owns
 * org.freedesktop.Avahi on a private bus (GTestDBus) that the `prdhub`
 * processes it starts take as their system and session bus. The fake
 * implements the part of Avahi's D-Bus API the hub uses (entry groups with
 * name collisions, a service browser, resolving), so the tests see exactly
 * what a hub announces, what `prdhub discover` prints, and what the hub's
 * Discovery property says; then a hub on a loopback address, and a LAN
 * without avahi-daemon.
 */
#include "config.h"

#include <signal.h>
#include <string.h>

#include "prd-dbus-hub1.h"

#include "test-hub-process.h"
#include "prd-test-harness.h"

#define SECRET "discovery-test-secret-0123456789abcdef"

static const char avahi_xml[] =
    "<node>"
    " <interface name='org.freedesktop.Avahi.Server'>"
    "  <method name='EntryGroupNew'><arg type='o' direction='out'/></method>"
    "  <method name='ServiceBrowserNew'>"
    "   <arg type='i' direction='in'/><arg type='i' direction='in'/>"
    "   <arg type='s' direction='in'/><arg type='s' direction='in'/>"
    "   <arg type='u' direction='in'/><arg type='o' direction='out'/>"
    "  </method>"
    "  <method name='ResolveService'>"
    "   <arg type='i' direction='in'/><arg type='i' direction='in'/>"
    "   <arg type='s' direction='in'/><arg type='s' direction='in'/>"
    "   <arg type='s' direction='in'/><arg type='i' direction='in'/>"
    "   <arg type='u' direction='in'/>"
    "   <arg type='i' direction='out'/><arg type='i' direction='out'/>"
    "   <arg type='s' direction='out'/><arg type='s' direction='out'/>"
    "   <arg type='s' direction='out'/><arg type='s' direction='out'/>"
    "   <arg type='i' direction='out'/><arg type='s' direction='out'/>"
    "   <arg type='q' direction='out'/><arg type='aay' direction='out'/>"
    "   <arg type='u' direction='out'/>"
    "  </method>"
    " </interface>"
    " <interface name='org.freedesktop.Avahi.EntryGroup'>"
    "  <method name='AddService'>"
    "   <arg type='i' direction='in'/><arg type='i' direction='in'/>"
    "   <arg type='u' direction='in'/><arg type='s' direction='in'/>"
    "   <arg type='s' direction='in'/><arg type='s' direction='in'/>"
    "   <arg type='s' direction='in'/><arg type='q' direction='in'/>"
    "   <arg type='aay' direction='in'/>"
    "  </method>"
    "  <method name='Commit'/>"
    "  <method name='Reset'/>"
    "  <method name='Free'/>"
    "  <signal name='StateChanged'><arg type='i'/><arg type='s'/></signal>"
    " </interface>"
    " <interface name='org.freedesktop.Avahi.ServiceBrowser'>"
    "  <method name='Free'/>"
    "  <signal name='ItemNew'>"
    "   <arg type='i'/><arg type='i'/><arg type='s'/><arg type='s'/><arg type='s'/>"
    "   <arg type='u'/>"
    "  </signal>"
    "  <signal name='AllForNow'/>"
    " </interface>"
    "</node>";

typedef struct
{
  char *name;
  char *type;
  guint16 port;
  GVariant *txt; /* (owned) aay */
} Service;

typedef struct
{
  char *path;
  char *owner; /* the client's unique name */
  guint object_id;
  GPtrArray *pending;  /* (element-type Service) added, not committed */
  GPtrArray *services; /* (element-type Service) committed */
} Group;

static struct
{
  GDBusConnection *bus;
  GDBusNodeInfo *info;
  guint owner_id;
  guint server_id;
  guint owner_changed_id;
  guint n_objects;
  GPtrArray *groups;   /* (element-type Group) */
  GPtrArray *browsers; /* (element-type utf8) object ids as pointers */
  guint commits;
  guint collisions;
  char *tmp_dir;
  char *host_name;
} fake;

static void
service_free (Service *service)
{
  g_free (service->name);
  g_free (service->type);
  g_variant_unref (service->txt);
  g_free (service);
}

static void
group_free (Group *group)
{
  if (group->object_id != 0)
    g_dbus_connection_unregister_object (fake.bus, group->object_id);
  g_free (group->path);
  g_free (group->owner);
  g_ptr_array_unref (group->pending);
  g_ptr_array_unref (group->services);
  g_free (group);
}

static Service *
find_service (const char *name)
{
  for (guint i = 0; i < fake.groups->len; i++)
    {
      Group *group = g_ptr_array_index (fake.groups, i);

      for (guint j = 0; j < group->services->len; j++)
        {
          Service *service = g_ptr_array_index (group->services, j);

          if (g_str_equal (service->name, name))
            return service;
        }
    }
  return NULL;
}

static guint
n_services (void)
{
  guint n = 0;

  for (guint i = 0; i < fake.groups->len; i++)
    n += ((Group *) g_ptr_array_index (fake.groups, i))->services->len;
  return n;
}

static char *
txt_string (Service *service)
{
  g_autoptr (GString) text = g_string_new (NULL);

  for (gsize i = 0; i < g_variant_n_children (service->txt); i++)
    {
      g_autoptr (GVariant) record = g_variant_get_child_value (service->txt, i);
      gsize len;
      const char *data = g_variant_get_fixed_array (record, &len, 1);

      if (text->len > 0)
        g_string_append_c (text, ' ');
      g_string_append_len (text, data, (gssize) len);
    }
  return g_string_free (g_steal_pointer (&text), FALSE);
}

static void
emit_state (Group *group, int state, const char *error)
{
  g_dbus_connection_emit_signal (fake.bus, group->owner, group->path,
                                 "org.freedesktop.Avahi.EntryGroup", "StateChanged",
                                 g_variant_new ("(is)", state, error), NULL);
}

static gboolean
free_group (gpointer user_data)
{
  g_ptr_array_remove (fake.groups, user_data);
  return G_SOURCE_REMOVE;
}

static void
group_method (GDBusConnection *connection,
              const char *sender,
              const char *path,
              const char *interface,
              const char *method,
              GVariant *parameters,
              GDBusMethodInvocation *invocation,
              gpointer user_data)
{
  Group *group = user_data;

  if (g_str_equal (method, "AddService"))
    {
      Service *service = g_new0 (Service, 1);
      const char *name, *type;
      int iface, protocol;
      guint32 flags;

      g_variant_get (parameters, "(iiu&s&s&s&sq@aay)", &iface, &protocol, &flags, &name, &type,
                     NULL, NULL, &service->port, &service->txt);
      g_assert_cmpint (iface, ==, -1);
      g_assert_cmpint (protocol, ==, -1);
      service->name = g_strdup (name);
      service->type = g_strdup (type);
      g_ptr_array_add (group->pending, service);
      g_dbus_method_invocation_return_value (invocation, NULL);
    }
  else if (g_str_equal (method, "Commit"))
    {
      gboolean collision = FALSE;

      fake.commits++;
      for (guint i = 0; i < group->pending->len; i++)
        if (find_service (((Service *) g_ptr_array_index (group->pending, i))->name) != NULL)
          collision = TRUE;
      g_dbus_method_invocation_return_value (invocation, NULL);
      if (collision)
        {
          fake.collisions++;
          emit_state (group, 3, "Local name collision");
          return;
        }
      while (group->pending->len > 0)
        g_ptr_array_add (group->services, g_ptr_array_steal_index (group->pending, 0));
      emit_state (group, 1, "");
      emit_state (group, 2, "");
    }
  else if (g_str_equal (method, "Reset"))
    {
      g_ptr_array_set_size (group->pending, 0);
      g_ptr_array_set_size (group->services, 0);
      g_dbus_method_invocation_return_value (invocation, NULL);
    }
  else if (g_str_equal (method, "Free"))
    {
      g_dbus_method_invocation_return_value (invocation, NULL);
      g_idle_add (free_group, group);
    }
}

static const GDBusInterfaceVTable group_vtable = { group_method, NULL, NULL, { 0 } };

static Group *
new_group (const char *owner)
{
  Group *group = g_new0 (Group, 1);
  g_autoptr (GError) error = NULL;

  group->path = g_strdup_printf ("/Client1/EntryGroup%u", ++fake.n_objects);
  group->owner = g_strdup (owner);
  group->pending = g_ptr_array_new_with_free_func ((GDestroyNotify) service_free);
  group->services = g_ptr_array_new_with_free_func ((GDestroyNotify) service_free);
  group->object_id = g_dbus_connection_register_object (
      fake.bus, group->path,
      g_dbus_node_info_lookup_interface (fake.info, "org.freedesktop.Avahi.EntryGroup"),
      &group_vtable, group, NULL, &error);
  g_assert_no_error (error);
  g_ptr_array_add (fake.groups, group);
  return group;
}

typedef struct
{
  char *path;
  char *owner;
  char *type;
} Browser;

static void
browser_free (Browser *browser)
{
  g_free (browser->path);
  g_free (browser->owner);
  g_free (browser->type);
  g_free (browser);
}

static void
browser_method (GDBusConnection *connection,
                const char *sender,
                const char *path,
                const char *interface,
                const char *method,
                GVariant *parameters,
                GDBusMethodInvocation *invocation,
                gpointer user_data)
{
  g_dbus_method_invocation_return_value (invocation, NULL);
}

static const GDBusInterfaceVTable browser_vtable = { browser_method, NULL, NULL, { 0 } };

/* As Avahi does: the browser reports at once what its cache holds, then
 * AllForNow (a client must already listen). */
static gboolean
browse_cached (gpointer user_data)
{
  Browser *browser = user_data;

  for (guint i = 0; i < fake.groups->len; i++)
    {
      Group *group = g_ptr_array_index (fake.groups, i);

      for (guint j = 0; j < group->services->len; j++)
        {
          Service *service = g_ptr_array_index (group->services, j);

          if (g_str_equal (service->type, browser->type))
            g_dbus_connection_emit_signal (
                fake.bus, browser->owner, browser->path, "org.freedesktop.Avahi.ServiceBrowser",
                "ItemNew",
                g_variant_new ("(iisssu)", 2, 0, service->name, service->type, "local", 0u), NULL);
        }
    }
  g_dbus_connection_emit_signal (fake.bus, browser->owner, browser->path,
                                 "org.freedesktop.Avahi.ServiceBrowser", "AllForNow", NULL, NULL);
  return G_SOURCE_REMOVE;
}

static void
server_method (GDBusConnection *connection,
               const char *sender,
               const char *path,
               const char *interface,
               const char *method,
               GVariant *parameters,
               GDBusMethodInvocation *invocation,
               gpointer user_data)
{
  if (g_str_equal (method, "EntryGroupNew"))
    {
      Group *group = new_group (sender);

      g_dbus_method_invocation_return_value (invocation, g_variant_new ("(o)", group->path));
    }
  else if (g_str_equal (method, "ServiceBrowserNew"))
    {
      Browser *browser = g_new0 (Browser, 1);
      g_autoptr (GError) error = NULL;
      const char *type;

      g_variant_get (parameters, "(ii&s&su)", NULL, NULL, &type, NULL, NULL);
      browser->path = g_strdup_printf ("/Client1/ServiceBrowser%u", ++fake.n_objects);
      browser->owner = g_strdup (sender);
      browser->type = g_strdup (type);
      g_dbus_connection_register_object (
          fake.bus, browser->path,
          g_dbus_node_info_lookup_interface (fake.info, "org.freedesktop.Avahi.ServiceBrowser"),
          &browser_vtable, NULL, NULL, &error);
      g_assert_no_error (error);
      g_dbus_method_invocation_return_value (invocation, g_variant_new ("(o)", browser->path));
      g_idle_add_full (G_PRIORITY_DEFAULT, browse_cached, browser, (GDestroyNotify) browser_free);
    }
  else if (g_str_equal (method, "ResolveService"))
    {
      const char *name, *type, *domain;
      int iface, protocol;
      Service *service;

      g_variant_get (parameters, "(ii&s&s&siu)", &iface, &protocol, &name, &type, &domain, NULL,
                     NULL);
      service = find_service (name);
      if (service == NULL)
        {
          g_dbus_method_invocation_return_dbus_error (
              invocation, "org.freedesktop.Avahi.TimeoutError", "Timeout reached");
          return;
        }
      g_dbus_method_invocation_return_value (
          invocation,
          g_variant_new ("(iissssisq@aayu)", iface, protocol, name, type, domain, "testhost.local",
                         0, "127.0.0.1", service->port, service->txt, 0u));
    }
}

static const GDBusInterfaceVTable server_vtable = { server_method, NULL, NULL, { 0 } };

/* Avahi drops a client's entry groups when the client leaves the bus. */
static void
on_owner_changed (GDBusConnection *connection,
                  const char *sender,
                  const char *path,
                  const char *interface,
                  const char *signal,
                  GVariant *parameters,
                  gpointer user_data)
{
  const char *name, *old_owner, *new_owner;

  g_variant_get (parameters, "(&s&s&s)", &name, &old_owner, &new_owner);
  if (*new_owner != '\0' || *old_owner == '\0')
    return;
  for (guint i = fake.groups->len; i > 0; i--)
    if (g_strcmp0 (((Group *) g_ptr_array_index (fake.groups, i - 1))->owner, old_owner) == 0)
      g_ptr_array_remove_index (fake.groups, i - 1);
}

static gboolean
avahi_owned_cond (gpointer data)
{
  g_autoptr (GVariant) reply = g_dbus_connection_call_sync (
      fake.bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
      "NameHasOwner", g_variant_new ("(s)", "org.freedesktop.Avahi"), G_VARIANT_TYPE ("(b)"),
      G_DBUS_CALL_FLAGS_NONE, -1, NULL, NULL);
  gboolean owned = FALSE;

  g_variant_get (reply, "(b)", &owned);
  return owned == GPOINTER_TO_INT (data);
}

static void
avahi_start (void)
{
  g_autoptr (GError) error = NULL;

  fake.server_id = g_dbus_connection_register_object (
      fake.bus, "/", g_dbus_node_info_lookup_interface (fake.info, "org.freedesktop.Avahi.Server"),
      &server_vtable, NULL, NULL, &error);
  g_assert_no_error (error);
  fake.owner_id = g_bus_own_name_on_connection (
      fake.bus, "org.freedesktop.Avahi", G_BUS_NAME_OWNER_FLAGS_NONE, NULL, NULL, NULL, NULL);
  wait_until (avahi_owned_cond, GINT_TO_POINTER (TRUE), "org.freedesktop.Avahi");
}

static void
avahi_stop (void)
{
  g_bus_unown_name (fake.owner_id);
  fake.owner_id = 0;
  g_dbus_connection_unregister_object (fake.bus, fake.server_id);
  fake.server_id = 0;
  wait_until (avahi_owned_cond, GINT_TO_POINTER (FALSE), "org.freedesktop.Avahi to go");
}

/* ---- helpers -------------------------------------------------------------------------- */

static HubProcess *
spawn_hub (const char *name, const char *listen)
{
  g_autofree char *data_dir = g_build_filename (fake.tmp_dir, name, NULL);
  g_autofree char *arg = g_strconcat ("--listen=", listen, NULL);

  return hub_process_spawn (data_dir, SECRET, NULL, FALSE, arg);
}

static guint16
port_of (const char *url)
{
  g_autoptr (GUri) uri = g_uri_parse (url, G_URI_FLAGS_NONE, NULL);

  g_assert_nonnull (uri);
  return (guint16) g_uri_get_port (uri);
}

typedef struct
{
  gboolean done;
  char *out;
  char *err;
  GError *error;
} Communication;

static void
on_communicated (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Communication *communication = user_data;

  g_subprocess_communicate_utf8_finish (G_SUBPROCESS (source), result, &communication->out,
                                        &communication->err, &communication->error);
  communication->done = TRUE;
}

/* Runs `prdhub discover` while the fake answers from this main context;
 * returns its standard output. */
static char *
discover (int *out_status, char **out_stderr)
{
  g_autoptr (GSubprocess) process = NULL;
  g_autoptr (GError) error = NULL;
  Communication communication = { 0 };

  process = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE,
                              &error, g_getenv ("PRDHUB_BIN"), "discover", "--timeout", "10", NULL);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8_async (process, NULL, NULL, on_communicated, &communication);
  prd_test_wait_while (!communication.done, PRD_TEST_TIMEOUT_MS);
  g_assert_no_error (communication.error);
  g_subprocess_wait (process, NULL, NULL);
  *out_status = g_subprocess_get_exit_status (process);
  *out_stderr = communication.err;
  g_test_message ("prdhub discover: status %d, stderr: %s", *out_status, communication.err);
  return communication.out;
}

static HubProcess *hub;

static gboolean
service_cond (gpointer data)
{
  return find_service (data) != NULL;
}

static gboolean
no_service_cond (gpointer data)
{
  return find_service (data) == NULL;
}

/* ---- the cases -------------------------------------------------------------------------- */

static void
test_publish (void)
{
  g_autofree char *taken = g_strdup_printf ("prdhub on %s", fake.host_name);
  g_autofree char *second = g_strdup_printf ("prdhub on %s #2", fake.host_name);
  g_autofree char *txt = NULL;
  g_autofree char *want_txt = NULL;
  g_autofree char *log = NULL;
  g_autoptr (PrdDbusHub1) proxy = NULL;
  g_autoptr (GError) error = NULL;
  GVariant *discovery;
  const char *state = NULL, *name = NULL;
  guint16 port = 0;
  Service *service;
  Group *other;

  /* Another hub of that name is already on the LAN. */
  other = new_group ("fake.other.hub");
  service = g_new0 (Service, 1);
  service->name = g_strdup (taken);
  service->type = g_strdup ("_prdhub._tcp");
  service->port = 4242;
  {
    const char *records[] = { "path=/socket.io/", "tls=1", "version=9.9.9" };
    GVariantBuilder builder;

    g_variant_builder_init (&builder, G_VARIANT_TYPE ("aay"));
    for (guint i = 0; i < G_N_ELEMENTS (records); i++)
      g_variant_builder_add_value (
          &builder,
          g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, records[i], strlen (records[i]), 1));
    service->txt = g_variant_ref_sink (g_variant_builder_end (&builder));
  }
  g_ptr_array_add (other->services, service);

  hub = spawn_hub ("lan", "0.0.0.0:0");
  wait_until (service_cond, second, "the hub's announcement under its second name");
  g_assert_cmpuint (fake.collisions, ==, 1);
  service = find_service (second);
  g_assert_cmpstr (service->type, ==, "_prdhub._tcp");
  g_assert_cmpuint (service->port, ==, port_of (hub->url));
  txt = txt_string (service);
  want_txt = g_strdup_printf ("path=/socket.io/ tls=0 version=%s name=%s", PACKAGE_VERSION, second);
  g_assert_cmpstr (txt, ==, want_txt);

  /* The admin interface shows it. */
  proxy =
      prd_dbus_hub1_proxy_new_for_bus_sync (G_BUS_TYPE_SESSION, G_DBUS_PROXY_FLAGS_NONE,
                                            "org.prdtool.Hub", "/org/prdtool/Hub", NULL, &error);
  g_assert_no_error (error);
  for (gint64 deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;;)
    {
      discovery = prd_dbus_hub1_get_discovery (proxy);
      if (discovery != NULL && g_variant_lookup (discovery, "state", "&s", &state) &&
          g_str_equal (state, "published"))
        break;
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      run_for (20);
    }
  g_assert_true (g_variant_lookup (discovery, "name", "&s", &name));
  g_assert_cmpstr (name, ==, second);
  g_assert_true (g_variant_lookup (discovery, "port", "q", &port));
  g_assert_cmpuint (port, ==, port_of (hub->url));
  log = hub_process_read_stderr (hub);
  g_assert_nonnull (strstr (log, "Announced on the LAN as"));
}

static void
test_discover (void)
{
  g_autofree char *taken = g_strdup_printf ("prdhub on %s", fake.host_name);
  g_autofree char *want = NULL;
  g_autofree char *err = NULL;
  g_autofree char *out = NULL;
  int status = -1;

  out = discover (&status, &err);
  g_assert_cmpint (status, ==, 0);
  want = g_strdup_printf ("%s\thttps://127.0.0.1:4242/\t9.9.9\n"
                          "%s #2\thttp://127.0.0.1:%u/\t%s\n",
                          taken, taken, port_of (hub->url), PACKAGE_VERSION);
  g_assert_cmpstr (out, ==, want);
}

static void
test_withdrawn (void)
{
  g_autofree char *second = g_strdup_printf ("prdhub on %s #2", fake.host_name);
  g_autofree char *taken = g_strdup_printf ("prdhub on %s", fake.host_name);
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *want = NULL;
  int status = -1;

  hub_process_stop (hub);
  g_clear_pointer (&hub, hub_process_free);
  wait_until (no_service_cond, second, "the announcement to go");
  out = discover (&status, &err);
  g_assert_cmpint (status, ==, 0);
  want = g_strdup_printf ("%s\thttps://127.0.0.1:4242/\t9.9.9\n", taken);
  g_assert_cmpstr (out, ==, want);
}

/* A hub nobody on the LAN could reach does not announce itself. */
static void
test_loopback (void)
{
  g_autoptr (HubProcess) local = spawn_hub ("loopback", "127.0.0.1:0");
  g_autoptr (PrdDbusHub1) proxy = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *log = NULL;
  guint commits = fake.commits;
  GVariant *discovery;
  const char *state = NULL;

  proxy =
      prd_dbus_hub1_proxy_new_for_bus_sync (G_BUS_TYPE_SESSION, G_DBUS_PROXY_FLAGS_NONE,
                                            "org.prdtool.Hub", "/org/prdtool/Hub", NULL, &error);
  g_assert_no_error (error);
  run_for (1000);
  g_assert_cmpuint (fake.commits, ==, commits);
  g_assert_cmpuint (n_services (), ==, 1);
  discovery = prd_dbus_hub1_get_discovery (proxy);
  g_assert_nonnull (discovery);
  g_assert_true (g_variant_lookup (discovery, "state", "&s", &state));
  g_assert_cmpstr (state, ==, "off");
  log = hub_process_read_stderr (local);
  g_assert_null (strstr (log, "LAN"));
  hub_process_stop (local);
}

/* Without avahi-daemon: one message, the hub serves; discover fails. */
static void
test_no_avahi (void)
{
  g_autoptr (HubProcess) lonely = NULL;
  g_autofree char *log = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  int status = -1;

  avahi_stop ();
  lonely = spawn_hub ("no-avahi", "0.0.0.0:0");
  for (gint64 deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;;)
    {
      g_free (log);
      log = hub_process_read_stderr (lonely);
      if (strstr (log, "Not announced") != NULL)
        break;
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      run_for (20);
    }
  run_for (300);
  g_free (log);
  log = hub_process_read_stderr (lonely);
  g_assert_nonnull (strstr (log, "Not announced on the LAN: avahi-daemon is not running"));
  g_assert_null (strstr (strstr (log, "Not announced") + 1, "Not announced"));
  hub_process_stop (lonely);

  out = discover (&status, &err);
  g_assert_cmpint (status, ==, 1);
  g_assert_cmpstr (out, ==, "");
  g_assert_nonnull (strstr (err, "avahi-daemon is not running"));
}

int
main (int argc, char *argv[])
{
  g_autoptr (GTestDBus) bus = NULL;
  g_autoptr (GError) error = NULL;
  int status;

  g_test_init (&argc, &argv, NULL);
  if (g_getenv ("PRDHUB_BIN") == NULL)
    {
      g_test_skip ("PRDHUB_BIN is not set");
      return g_test_run ();
    }
  bus = g_test_dbus_new (G_TEST_DBUS_NONE);
  g_test_dbus_up (bus);
  /* The hubs and prdhub discover take this bus as their system bus too. */
  g_setenv ("DBUS_SYSTEM_BUS_ADDRESS", g_test_dbus_get_bus_address (bus), TRUE);

  fake.tmp_dir = g_dir_make_tmp ("prdhub-discovery-XXXXXX", &error);
  g_assert_no_error (error);
  fake.host_name = g_strdup (g_get_host_name ());
  fake.bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, &error);
  g_assert_no_error (error);
  fake.info = g_dbus_node_info_new_for_xml (avahi_xml, &error);
  g_assert_no_error (error);
  fake.groups = g_ptr_array_new_with_free_func ((GDestroyNotify) group_free);
  fake.owner_changed_id = g_dbus_connection_signal_subscribe (
      fake.bus, "org.freedesktop.DBus", "org.freedesktop.DBus", "NameOwnerChanged",
      "/org/freedesktop/DBus", NULL, G_DBUS_SIGNAL_FLAGS_NONE, on_owner_changed, NULL, NULL);
  avahi_start ();

  g_test_add_func ("/prd/discovery/publish", test_publish);
  g_test_add_func ("/prd/discovery/discover", test_discover);
  g_test_add_func ("/prd/discovery/withdrawn", test_withdrawn);
  g_test_add_func ("/prd/discovery/loopback", test_loopback);
  g_test_add_func ("/prd/discovery/no-avahi", test_no_avahi);
  status = g_test_run ();

  g_clear_pointer (&hub, hub_process_free);
  if (fake.owner_id != 0)
    avahi_stop ();
  g_dbus_connection_signal_unsubscribe (fake.bus, fake.owner_changed_id);
  g_clear_pointer (&fake.groups, g_ptr_array_unref);
  g_clear_pointer (&fake.info, g_dbus_node_info_unref);
  g_clear_object (&fake.bus);
  prd_test_remove_tree (fake.tmp_dir);
  g_free (fake.tmp_dir);
  g_free (fake.host_name);
  g_test_dbus_down (bus);
  return status;
}
