/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * PrdAdminWindow: a header bar with the page switcher, and below it either
 * the four pages (Overview, Sessions, AI Jobs, Integrations) while a hub
 * runs, or a status page saying how to start one. It follows its
 * #PrdAdminClient and hands the proxy to the pages. Its size is kept in
 * GSettings (org.prdtool.Hub.Admin) when the schema is installed.
 */
#define G_LOG_DOMAIN "prd-admin"

#include "config.h"

#include <glib/gi18n.h>

#include "prd-error.h"

#include "prd-admin-columns.h"

#include "prd-admin-window.h"

struct _PrdAdminWindow
{
  AdwApplicationWindow parent_instance;

  AdwToastOverlay *toast_overlay;
  AdwViewSwitcherTitle *switcher_title;
  AdwViewSwitcherBar *switcher_bar;
  GtkStack *main_stack;
  AdwViewStack *view_stack;
  AdwStatusPage *unreadable_page;
  GtkRevealer *banner;
  GtkLabel *banner_label;
  PrdAdminOverviewPage *overview_page;
  PrdAdminSessionsPage *sessions_page;
  PrdAdminJobsPage *jobs_page;
  PrdAdminIntegrationsPage *integrations_page;

  PrdAdminClient *client; /* (owned) */
  GSettings *settings;    /* (owned) (nullable): without the schema installed */
};

enum
{
  PROP_0,
  PROP_CLIENT,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

G_DEFINE_FINAL_TYPE (PrdAdminWindow, prd_admin_window, ADW_TYPE_APPLICATION_WINDOW)

/* A lasting error, in a banner above the pages (an alert for screen
 * readers) until dismissed or the hub's state changes; %NULL hides it. */
static void
show_banner (PrdAdminWindow *self, const char *text)
{
  if (text != NULL)
    gtk_label_set_text (self->banner_label, text);
  gtk_revealer_set_reveal_child (self->banner, text != NULL);
  gtk_widget_set_visible (GTK_WIDGET (self->banner), text != NULL);
}

static void
show_unreadable (PrdAdminWindow *self, const GError *error)
{
  g_autofree char *message = error != NULL ? prd_admin_error_message (error) : g_strdup ("");
  g_autofree char *description = NULL;

  if (g_error_matches (error, PRD_ERROR, PRD_ERROR_FORBIDDEN))
    {
      adw_status_page_set_title (self->unreadable_page, _ ("This Hub Belongs to Another User"));
      /* Translators: %s is the hub's reason */
      description = g_strdup_printf (_ ("The hub on this session bus refuses you: %s"), message);
    }
  else
    {
      adw_status_page_set_title (self->unreadable_page, _ ("Cannot Read the Hub"));
      /* Translators: %s says why */
      description = g_strdup_printf (_ ("Cannot read the hub: %s"), message);
    }
  adw_status_page_set_description (self->unreadable_page, description);
}

static void
on_client_changed (PrdAdminClient *client, GParamSpec *pspec, gpointer user_data)
{
  PrdAdminWindow *self = user_data;
  PrdDbusHub1 *proxy = prd_admin_client_get_proxy (client);
  const char *page;

  switch (prd_admin_client_get_state (client))
    {
      case PRD_ADMIN_CLIENT_CONNECTED:
        page = "hub";
        show_banner (self, NULL);
        break;
      case PRD_ADMIN_CLIENT_UNREADABLE:
        page = "unreadable";
        show_unreadable (self, prd_admin_client_get_error (client));
        break;
      case PRD_ADMIN_CLIENT_NO_HUB:
        page = "no-hub";
        break;
      case PRD_ADMIN_CLIENT_CONNECTING:
      default:
        page = "connecting";
        break;
    }
  gtk_stack_set_visible_child_name (self->main_stack, page);
  adw_view_switcher_title_set_view_switcher_enabled (self->switcher_title, proxy != NULL);
  gtk_widget_set_visible (GTK_WIDGET (self->switcher_bar), proxy != NULL);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.start-hub",
                                 prd_admin_client_get_state (client) == PRD_ADMIN_CLIENT_NO_HUB);
  prd_admin_overview_page_set_proxy (self->overview_page, proxy);
  prd_admin_sessions_page_set_proxy (self->sessions_page, proxy);
  prd_admin_jobs_page_set_proxy (self->jobs_page, proxy);
  prd_admin_integrations_page_set_proxy (self->integrations_page, proxy);
}

static void
on_hub_started (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (PrdAdminWindow) self = user_data;
  g_autoptr (GError) error = NULL;

  if (!prd_admin_client_start_hub_finish (PRD_ADMIN_CLIENT (source), result, &error))
    {
      g_autofree char *message = prd_admin_error_message (error);
      /* Translators: a banner that stays until dismissed; %s says why */
      g_autofree char *title = g_strdup_printf (_ ("Could not start the hub: %s"), message);

      show_banner (self, title);
    }
}

static void
dismiss_banner_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  show_banner (PRD_ADMIN_WINDOW (widget), NULL);
}

static void
start_hub_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  PrdAdminWindow *self = PRD_ADMIN_WINDOW (widget);

  prd_admin_client_start_hub_async (self->client, NULL, on_hub_started, g_object_ref (self));
}

static void
refresh_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  PrdAdminWindow *self = PRD_ADMIN_WINDOW (widget);

  prd_admin_sessions_page_refresh (self->sessions_page);
  prd_admin_jobs_page_refresh (self->jobs_page);
  prd_admin_integrations_page_refresh (self->integrations_page);
}

static void
find_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  PrdAdminWindow *self = PRD_ADMIN_WINDOW (widget);
  const char *page = adw_view_stack_get_visible_child_name (self->view_stack);

  if (g_strcmp0 (page, "jobs") == 0)
    prd_admin_jobs_page_focus_filter (self->jobs_page);
  else
    {
      adw_view_stack_set_visible_child_name (self->view_stack, "sessions");
      prd_admin_sessions_page_focus_filter (self->sessions_page);
    }
}

static void
page_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  prd_admin_window_show_page (PRD_ADMIN_WINDOW (widget), g_variant_get_string (parameter, NULL));
}

static void
prd_admin_window_constructed (GObject *object)
{
  PrdAdminWindow *self = PRD_ADMIN_WINDOW (object);
  g_autoptr (GSettingsSchema) schema = NULL;
  GSettingsSchemaSource *source = g_settings_schema_source_get_default ();

  G_OBJECT_CLASS (prd_admin_window_parent_class)->constructed (object);

  g_assert (self->client != NULL);
  g_signal_connect_object (self->client, "notify", G_CALLBACK (on_client_changed), self, 0);
  on_client_changed (self->client, NULL, self);

  if (source != NULL)
    schema = g_settings_schema_source_lookup (source, PRD_ADMIN_SCHEMA_ID, TRUE);
  if (schema == NULL)
    {
      g_debug ("The schema %s is not installed: the window size is not kept", PRD_ADMIN_SCHEMA_ID);
      return;
    }
  self->settings = g_settings_new_full (schema, NULL, NULL);
  g_settings_bind (self->settings, "window-width", self, "default-width", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "window-height", self, "default-height",
                   G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "window-maximized", self, "maximized", G_SETTINGS_BIND_DEFAULT);
}

static void
prd_admin_window_dispose (GObject *object)
{
  PrdAdminWindow *self = PRD_ADMIN_WINDOW (object);

  if (self->client != NULL)
    g_signal_handlers_disconnect_by_data (self->client, self);
  g_clear_object (&self->settings);
  g_clear_object (&self->client);

  G_OBJECT_CLASS (prd_admin_window_parent_class)->dispose (object);
}

static void
prd_admin_window_set_property (GObject *object,
                               guint prop_id,
                               const GValue *value,
                               GParamSpec *pspec)
{
  PrdAdminWindow *self = PRD_ADMIN_WINDOW (object);

  switch (prop_id)
    {
      case PROP_CLIENT:
        self->client = g_value_dup_object (value);
        break;
      default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
prd_admin_window_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  PrdAdminWindow *self = PRD_ADMIN_WINDOW (object);

  switch (prop_id)
    {
      case PROP_CLIENT:
        g_value_set_object (value, self->client);
        break;
      default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
prd_admin_window_class_init (PrdAdminWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->constructed = prd_admin_window_constructed;
  object_class->dispose = prd_admin_window_dispose;
  object_class->set_property = prd_admin_window_set_property;
  object_class->get_property = prd_admin_window_get_property;

  properties[PROP_CLIENT] =
      g_param_spec_object ("client", NULL, NULL, PRD_TYPE_ADMIN_CLIENT,
                           G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  g_type_ensure (PRD_TYPE_ADMIN_OVERVIEW_PAGE);
  g_type_ensure (PRD_TYPE_ADMIN_SESSIONS_PAGE);
  g_type_ensure (PRD_TYPE_ADMIN_JOBS_PAGE);
  g_type_ensure (PRD_TYPE_ADMIN_INTEGRATIONS_PAGE);
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/org/prdtool/Hub/Admin/prd-admin-window.ui");
  gtk_widget_class_bind_template_child (widget_class, PrdAdminWindow, toast_overlay);
  gtk_widget_class_bind_template_child (widget_class, PrdAdminWindow, switcher_title);
  gtk_widget_class_bind_template_child (widget_class, PrdAdminWindow, switcher_bar);
  gtk_widget_class_bind_template_child (widget_class, PrdAdminWindow, main_stack);
  gtk_widget_class_bind_template_child (widget_class, PrdAdminWindow, view_stack);
  gtk_widget_class_bind_template_child (widget_class, PrdAdminWindow, unreadable_page);
  gtk_widget_class_bind_template_child (widget_class, PrdAdminWindow, banner);
  gtk_widget_class_bind_template_child (widget_class, PrdAdminWindow, banner_label);
  gtk_widget_class_bind_template_child (widget_class, PrdAdminWindow, overview_page);
  gtk_widget_class_bind_template_child (widget_class, PrdAdminWindow, sessions_page);
  gtk_widget_class_bind_template_child (widget_class, PrdAdminWindow, jobs_page);
  gtk_widget_class_bind_template_child (widget_class, PrdAdminWindow, integrations_page);

  gtk_widget_class_install_action (widget_class, "win.start-hub", NULL, start_hub_action);
  gtk_widget_class_install_action (widget_class, "win.refresh", NULL, refresh_action);
  gtk_widget_class_install_action (widget_class, "win.find", NULL, find_action);
  gtk_widget_class_install_action (widget_class, "win.page", "s", page_action);
  gtk_widget_class_install_action (widget_class, "win.dismiss-banner", NULL, dismiss_banner_action);
}

static void
prd_admin_window_init (PrdAdminWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  show_banner (self, NULL);
  g_object_bind_property (self->switcher_title, "title-visible", self->switcher_bar, "reveal",
                          G_BINDING_SYNC_CREATE);
}

PrdAdminWindow *
prd_admin_window_new (GtkApplication *application, PrdAdminClient *client)
{
  g_return_val_if_fail (GTK_IS_APPLICATION (application), NULL);
  g_return_val_if_fail (PRD_IS_ADMIN_CLIENT (client), NULL);

  return g_object_new (PRD_TYPE_ADMIN_WINDOW, "application", application, "client", client, NULL);
}

/**
 * prd_admin_window_get_banner:
 *
 * Returns: (transfer none) (nullable): the lasting error the window shows
 *   above its pages, %NULL when none
 */
const char *
prd_admin_window_get_banner (PrdAdminWindow *self)
{
  g_return_val_if_fail (PRD_IS_ADMIN_WINDOW (self), NULL);

  if (!gtk_revealer_get_reveal_child (self->banner))
    return NULL;
  return gtk_label_get_text (self->banner_label);
}

/**
 * prd_admin_window_get_state_page:
 *
 * Returns: "connecting", "no-hub", "unreadable" or "hub"
 */
const char *
prd_admin_window_get_state_page (PrdAdminWindow *self)
{
  g_return_val_if_fail (PRD_IS_ADMIN_WINDOW (self), NULL);

  return gtk_stack_get_visible_child_name (self->main_stack);
}

/**
 * prd_admin_window_show_page:
 * @name: "overview", "sessions", "jobs" or "integrations"
 */
void
prd_admin_window_show_page (PrdAdminWindow *self, const char *name)
{
  g_return_if_fail (PRD_IS_ADMIN_WINDOW (self));

  adw_view_stack_set_visible_child_name (self->view_stack, name);
}

PrdAdminOverviewPage *
prd_admin_window_get_overview_page (PrdAdminWindow *self)
{
  g_return_val_if_fail (PRD_IS_ADMIN_WINDOW (self), NULL);
  return self->overview_page;
}

PrdAdminSessionsPage *
prd_admin_window_get_sessions_page (PrdAdminWindow *self)
{
  g_return_val_if_fail (PRD_IS_ADMIN_WINDOW (self), NULL);
  return self->sessions_page;
}

PrdAdminJobsPage *
prd_admin_window_get_jobs_page (PrdAdminWindow *self)
{
  g_return_val_if_fail (PRD_IS_ADMIN_WINDOW (self), NULL);
  return self->jobs_page;
}

PrdAdminIntegrationsPage *
prd_admin_window_get_integrations_page (PrdAdminWindow *self)
{
  g_return_val_if_fail (PRD_IS_ADMIN_WINDOW (self), NULL);
  return self->integrations_page;
}
