/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * PrdAdminApplication: the admin app (org.prdtool.Hub.Admin). One window,
 * one #PrdAdminClient following the hub on the session bus, the About
 * window and the keyboard shortcuts.
 */
#define G_LOG_DOMAIN "prd-admin"

#include "config.h"

#include <glib/gi18n.h>

#include "prd-admin-window.h"

#include "prd-admin-application.h"

struct _PrdAdminApplication
{
  AdwApplication parent_instance;

  PrdAdminClient *client; /* (owned) (nullable) until startup */
};

G_DEFINE_FINAL_TYPE (PrdAdminApplication, prd_admin_application, ADW_TYPE_APPLICATION)

static char *
debug_info (PrdAdminApplication *self)
{
  PrdDbusHub1 *proxy = self->client != NULL ? prd_admin_client_get_proxy (self->client) : NULL;
  GString *info = g_string_new (NULL);

  g_string_append_printf (info, "prdhub-admin %s\nGTK %u.%u.%u, libadwaita %u.%u.%u\n\n",
                          PACKAGE_VERSION, gtk_get_major_version (), gtk_get_minor_version (),
                          gtk_get_micro_version (), adw_get_major_version (),
                          adw_get_minor_version (), adw_get_micro_version ());
  if (proxy != NULL)
    g_string_append_printf (info, "hub %s at %s (%s)\n", prd_dbus_hub1_get_version (proxy),
                            prd_dbus_hub1_get_listen_uri (proxy),
                            g_dbus_proxy_get_name (G_DBUS_PROXY (proxy)));
  else
    g_string_append (info, "no hub on the session bus\n");
  return g_string_free (info, FALSE);
}

static void
about_action (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  PrdAdminApplication *self = user_data;
  g_autofree char *info = debug_info (self);
  const char *developers[] = { _ ("The prdhub developers"), NULL };

  adw_show_about_window (gtk_application_get_active_window (GTK_APPLICATION (self)),
                         "application-name", _ ("PRD Hub Admin"), "application-icon",
                         PRD_ADMIN_APPLICATION_ID, "developer-name", _ ("The prdhub developers"),
                         "developers", developers, "version", PACKAGE_VERSION, "comments",
                         _ ("Watch and manage a running prdhub: sessions, AI jobs, integrations"),
                         "license-type", GTK_LICENSE_GPL_3_0, "debug-info", info,
                         /* Translators: put your name here, one per line */
                         "translator-credits", _ ("translator-credits"), NULL);
}

static void
quit_action (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  g_application_quit (G_APPLICATION (user_data));
}

static const GActionEntry app_actions[] = {
  { "about", about_action, NULL, NULL, NULL, { 0 } },
  { "quit", quit_action, NULL, NULL, NULL, { 0 } },
};

static void
prd_admin_application_startup (GApplication *application)
{
  PrdAdminApplication *self = PRD_ADMIN_APPLICATION (application);
  struct
  {
    const char *action;
    const char *accels[3];
  } accels[] = {
    { "app.quit", { "<Control>q", NULL } },
    { "window.close", { "<Control>w", NULL } },
    { "win.refresh", { "F5", "<Control>r", NULL } },
    { "win.find", { "<Control>f", NULL } },
    { "win.page('overview')", { "<Alt>1", NULL } },
    { "win.page('sessions')", { "<Alt>2", NULL } },
    { "win.page('jobs')", { "<Alt>3", NULL } },
    { "win.page('integrations')", { "<Alt>4", NULL } },
  };

  G_APPLICATION_CLASS (prd_admin_application_parent_class)->startup (application);

  g_action_map_add_action_entries (G_ACTION_MAP (self), app_actions, G_N_ELEMENTS (app_actions),
                                   self);
  for (guint i = 0; i < G_N_ELEMENTS (accels); i++)
    gtk_application_set_accels_for_action (GTK_APPLICATION (self), accels[i].action,
                                           accels[i].accels);
  self->client = prd_admin_client_new ();
}

static void
prd_admin_application_activate (GApplication *application)
{
  PrdAdminApplication *self = PRD_ADMIN_APPLICATION (application);
  GtkWindow *window = gtk_application_get_active_window (GTK_APPLICATION (self));

  if (window == NULL)
    window = GTK_WINDOW (prd_admin_window_new (GTK_APPLICATION (self), self->client));
  gtk_window_present (window);
}

static void
prd_admin_application_shutdown (GApplication *application)
{
  PrdAdminApplication *self = PRD_ADMIN_APPLICATION (application);

  G_APPLICATION_CLASS (prd_admin_application_parent_class)->shutdown (application);
  g_clear_object (&self->client);
}

static void
prd_admin_application_dispose (GObject *object)
{
  PrdAdminApplication *self = PRD_ADMIN_APPLICATION (object);

  g_clear_object (&self->client);

  G_OBJECT_CLASS (prd_admin_application_parent_class)->dispose (object);
}

static void
prd_admin_application_class_init (PrdAdminApplicationClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GApplicationClass *application_class = G_APPLICATION_CLASS (klass);

  object_class->dispose = prd_admin_application_dispose;
  application_class->startup = prd_admin_application_startup;
  application_class->activate = prd_admin_application_activate;
  application_class->shutdown = prd_admin_application_shutdown;
}

static void
prd_admin_application_init (PrdAdminApplication *self)
{
}

PrdAdminApplication *
prd_admin_application_new (void)
{
  return g_object_new (PRD_TYPE_ADMIN_APPLICATION, "application-id", PRD_ADMIN_APPLICATION_ID,
                       "flags", G_APPLICATION_DEFAULT_FLAGS, "resource-base-path",
                       "/org/prdtool/Hub/Admin", NULL);
}

/**
 * prd_admin_application_get_client:
 *
 * Returns: (transfer none) (nullable): the link to the hub, after startup
 */
PrdAdminClient *
prd_admin_application_get_client (PrdAdminApplication *self)
{
  g_return_val_if_fail (PRD_IS_ADMIN_APPLICATION (self), NULL);

  return self->client;
}
