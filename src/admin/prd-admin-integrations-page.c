/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * PrdAdminIntegrationsPage: one row per organization and configured
 * service (Jira, Mattermost, Craft.io, git remotes) with its status, last
 * error and last success, and a "Test Now" button (`integrations.test`).
 * Listed when the hub appears and again on IntegrationStatusChanged, one
 * listing at a time: signals that come while one is in flight ask for one
 * more after it (a burst of status changes is a few listings, not one per
 * signal: cancelling a D-Bus call does not stop the hub's work). While
 * the hub has no integration configured, an empty state says so.
 *
 * A test waits for the hub's answer however long the check takes (without
 * a D-Bus timeout: a service that does not answer keeps the hub's check
 * going for minutes, see docs/dbus.md); meanwhile its row shows a spinner
 * and "Testing…" instead of the button.
 */
#define G_LOG_DOMAIN "prd-admin"

#include "config.h"

#include <glib/gi18n.h>

#include "prd-admin-client.h"
#include "prd-admin-columns.h"
#include "prd-admin-record.h"

#include "prd-admin-integrations-page.h"

struct _PrdAdminIntegrationsPage
{
  AdwBin parent_instance;

  GtkStack *stack;
  GtkListBox *list_box;
  AdwStatusPage *error_page;

  PrdDbusHub1 *proxy;             /* (owned) (nullable) */
  gboolean failed;                /* the last listing failed: the error page shows */
  GCancellable *cancellable;      /* (owned) (nullable): the listing in flight */
  gboolean again;                 /* list again when the listing in flight is done */
  GCancellable *test_cancellable; /* (owned) (nullable): the tests of this proxy */
  GHashTable *testing;            /* (owned) (element-type utf8): test_key() of rows under test */
  GListStore *store;              /* (owned) (element-type PrdAdminRecord) */
  guint n_refreshes;
};

G_DEFINE_FINAL_TYPE (PrdAdminIntegrationsPage, prd_admin_integrations_page, ADW_TYPE_BIN)

static const char *
service_name (const char *service)
{
  if (g_str_equal (service, "jira"))
    return "Jira";
  if (g_str_equal (service, "mattermost"))
    return "Mattermost";
  if (g_str_equal (service, "craftio"))
    return "Craft.io";
  if (g_str_equal (service, "git"))
    /* Translators: the integration that pushes versions to git remotes */
    return _ ("Git remotes");
  return service;
}

/* Organization ids are free text: the unit separator keeps two pairs
 * apart. */
static char *
test_key (const char *organization, const char *service)
{
  return g_strconcat (organization, "\x1f", service, NULL);
}

static GtkWidget *
create_row (gpointer item, gpointer user_data)
{
  PrdAdminIntegrationsPage *self = user_data;
  PrdAdminRecord *record = item;
  const char *organization = prd_admin_record_get_string (record, "organization");
  const char *service = prd_admin_record_get_string (record, "service");
  const char *status = prd_admin_record_get_string (record, "status");
  const char *last_error = prd_admin_record_get_string (record, "last-error");
  g_autofree char *last_success =
      prd_admin_time_to_string (prd_admin_record_get_int (record, "last-success"));
  g_autofree char *title = NULL;
  g_autoptr (GString) subtitle = g_string_new (prd_admin_word (status));
  g_autofree char *key = test_key (organization, service);
  gboolean testing = g_hash_table_contains (self->testing, key);
  GtkWidget *row = adw_action_row_new ();
  GtkWidget *button = testing ? gtk_button_new_with_label (_ ("Testing…"))
                              : gtk_button_new_with_mnemonic (_ ("_Test Now"));

  /* Translators: an integration row: "Jira — org_1" */
  title = g_strdup_printf (_ ("%s — %s"), service_name (service), organization);
  if (*last_success != '\0')
    /* Translators: after the integration's status */
    g_string_append_printf (subtitle, _ (" · last success %s"), last_success);
  if (*last_error != '\0')
    /* Translators: after the integration's status */
    g_string_append_printf (subtitle, _ (" · last error: %s"), last_error);
  /* The title and subtitle hold the hub's text (organization ids, a
   * service's error message): plain text, never markup. */
  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), title);
  adw_action_row_set_subtitle (ADW_ACTION_ROW (row), subtitle->str);
  gtk_widget_set_valign (button, GTK_ALIGN_CENTER);
  if (testing)
    {
      GtkWidget *spinner = gtk_spinner_new ();

      /* The hub is checking the service: one test at a time per row. */
      gtk_spinner_start (GTK_SPINNER (spinner));
      gtk_widget_set_valign (spinner, GTK_ALIGN_CENTER);
      adw_action_row_add_suffix (ADW_ACTION_ROW (row), spinner);
      gtk_widget_set_sensitive (button, FALSE);
    }
  else
    {
      gtk_actionable_set_action_name (GTK_ACTIONABLE (button), "integrations.test");
      gtk_actionable_set_action_target (GTK_ACTIONABLE (button), "(ss)", organization, service);
    }
  adw_action_row_add_suffix (ADW_ACTION_ROW (row), button);
  return row;
}

/* Makes the list box create the row of @key again. */
static void
row_changed (PrdAdminIntegrationsPage *self, const char *key)
{
  GListModel *model = G_LIST_MODEL (self->store);

  for (guint i = 0; i < g_list_model_get_n_items (model); i++)
    {
      g_autoptr (PrdAdminRecord) record = g_list_model_get_item (model, i);
      g_autofree char *record_key = test_key (prd_admin_record_get_string (record, "organization"),
                                              prd_admin_record_get_string (record, "service"));

      if (g_str_equal (record_key, key))
        g_list_model_items_changed (model, i, 1, 1);
    }
}

static void
update_stack (PrdAdminIntegrationsPage *self)
{
  if (self->failed)
    gtk_stack_set_visible_child_name (self->stack, "error");
  else
    gtk_stack_set_visible_child_name (
        self->stack, g_list_model_get_n_items (G_LIST_MODEL (self->store)) > 0 ? "list" : "empty");
}

static void list_integrations (PrdAdminIntegrationsPage *self);

static void
on_listed (GObject *source, GAsyncResult *result, gpointer user_data)
{
  PrdAdminIntegrationsPage *self = user_data;
  g_autoptr (GVariant) integrations = NULL;
  g_autoptr (GError) error = NULL;

  if (!prd_dbus_hub1_call_list_integrations_finish (PRD_DBUS_HUB1 (source), &integrations, result,
                                                    &error))
    {
      g_autofree char *message = NULL;
      g_autofree char *description = NULL;

      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      g_clear_object (&self->cancellable);
      g_debug ("ListIntegrations: %s", error->message);
      /* Not "no integrations": the hub did not say. */
      message = prd_admin_error_message (error);
      /* Translators: %s says why */
      description = g_strdup_printf (_ ("Cannot read the hub: %s"), message);
      adw_status_page_set_description (self->error_page, description);
      self->failed = TRUE;
      update_stack (self);
      /* A change came meanwhile: the next listing may well succeed. */
      if (self->again)
        list_integrations (self);
      return;
    }
  g_clear_object (&self->cancellable);
  self->failed = FALSE;
  prd_admin_store_replace (self->store, integrations);
  self->n_refreshes++;
  update_stack (self);
  if (self->again)
    list_integrations (self);
}

/* One listing at a time; a change meanwhile lists once more after it. */
static void
list_integrations (PrdAdminIntegrationsPage *self)
{
  if (self->proxy == NULL)
    return;
  if (self->cancellable != NULL)
    {
      self->again = TRUE;
      return;
    }
  self->again = FALSE;
  self->cancellable = g_cancellable_new ();
  prd_dbus_hub1_call_list_integrations (self->proxy, self->cancellable, on_listed, self);
}

static void
on_status_changed (PrdDbusHub1 *proxy, GVariant *status, gpointer user_data)
{
  list_integrations (PRD_ADMIN_INTEGRATIONS_PAGE (user_data));
}

typedef struct
{
  PrdAdminIntegrationsPage *self; /* (owned) */
  char *title;
  char *key; /* test_key() */
} Test;

static void
test_free (Test *test)
{
  g_object_unref (test->self);
  g_free (test->title);
  g_free (test->key);
  g_free (test);
}

static void
on_tested (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Test *test = user_data;
  g_autoptr (GVariant) status = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *title = NULL;
  gboolean ok;

  ok = prd_dbus_hub1_call_test_integration_finish (PRD_DBUS_HUB1 (source), &status, result, &error);
  /* Cancelled: the page left this hub, and its rows with it. */
  if (!ok && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      test_free (test);
      return;
    }
  g_hash_table_remove (test->self->testing, test->key);
  row_changed (test->self, test->key);
  if (ok)
    {
      g_autofree char *what = prd_admin_shorten (test->title);
      const char *state = "";

      g_variant_lookup (status, "status", "&s", &state);
      /* Translators: a toast, the outcome first: "Connected: Jira — org_1" */
      title = g_strdup_printf (_ ("%1$s: %2$s"), prd_admin_word (state), what);
      list_integrations (test->self);
    }
  else
    {
      g_autofree char *message = prd_admin_error_message (error);

      /* Translators: a toast; %s says why */
      title = g_strdup_printf (_ ("Test failed: %s"), message);
    }
  prd_admin_show_toast (GTK_WIDGET (test->self), title);
  test_free (test);
}

static void
test_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  PrdAdminIntegrationsPage *self = PRD_ADMIN_INTEGRATIONS_PAGE (widget);
  const char *organization, *service;
  Test *test;

  g_autofree char *key = NULL;

  if (self->proxy == NULL)
    return;
  g_variant_get (parameter, "(&s&s)", &organization, &service);
  key = test_key (organization, service);
  if (g_hash_table_contains (self->testing, key))
    return;
  g_hash_table_add (self->testing, g_strdup (key));
  row_changed (self, key);
  if (self->test_cancellable == NULL)
    self->test_cancellable = g_cancellable_new ();
  test = g_new0 (Test, 1);
  test->self = g_object_ref (self);
  test->title = g_strdup_printf (_ ("%s — %s"), service_name (service), organization);
  test->key = g_steal_pointer (&key);
  /* No timeout: the hub answers when its check ends, which may be long
   * after the default 25 s (docs/dbus.md), or fails the call when it
   * goes away. */
  g_dbus_proxy_call (G_DBUS_PROXY (self->proxy), "TestIntegration",
                     g_variant_new ("(ss)", organization, service), G_DBUS_CALL_FLAGS_NONE,
                     G_MAXINT, self->test_cancellable, on_tested, test);
}

static void
prd_admin_integrations_page_dispose (GObject *object)
{
  PrdAdminIntegrationsPage *self = PRD_ADMIN_INTEGRATIONS_PAGE (object);

  prd_admin_integrations_page_set_proxy (self, NULL);
  g_clear_object (&self->store);
  g_clear_pointer (&self->testing, g_hash_table_unref);

  G_OBJECT_CLASS (prd_admin_integrations_page_parent_class)->dispose (object);
}

static void
prd_admin_integrations_page_class_init (PrdAdminIntegrationsPageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = prd_admin_integrations_page_dispose;

  gtk_widget_class_set_template_from_resource (
      widget_class, "/org/prdtool/Hub/Admin/prd-admin-integrations-page.ui");
  gtk_widget_class_bind_template_child (widget_class, PrdAdminIntegrationsPage, stack);
  gtk_widget_class_bind_template_child (widget_class, PrdAdminIntegrationsPage, list_box);
  gtk_widget_class_bind_template_child (widget_class, PrdAdminIntegrationsPage, error_page);

  /**
   * PrdAdminIntegrationsPage|integrations.test:
   * @organization_service: (ss)
   *
   * Tests one integration now and shows the result in a toast.
   */
  gtk_widget_class_install_action (widget_class, "integrations.test", "(ss)", test_action);
}

static void
prd_admin_integrations_page_init (PrdAdminIntegrationsPage *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->testing = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->store = g_list_store_new (PRD_TYPE_ADMIN_RECORD);
  gtk_list_box_bind_model (self->list_box, G_LIST_MODEL (self->store), create_row, self, NULL);
  update_stack (self);
}

/**
 * prd_admin_integrations_page_set_proxy:
 * @proxy: (nullable): the hub, %NULL when none runs
 */
void
prd_admin_integrations_page_set_proxy (PrdAdminIntegrationsPage *self, PrdDbusHub1 *proxy)
{
  g_return_if_fail (PRD_IS_ADMIN_INTEGRATIONS_PAGE (self));

  if (self->proxy == proxy)
    return;
  self->failed = FALSE;
  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  self->again = FALSE;
  if (self->test_cancellable != NULL)
    g_cancellable_cancel (self->test_cancellable);
  g_clear_object (&self->test_cancellable);
  if (self->testing != NULL)
    g_hash_table_remove_all (self->testing);
  if (self->proxy != NULL)
    g_signal_handlers_disconnect_by_data (self->proxy, self);
  g_set_object (&self->proxy, proxy);
  if (self->store != NULL)
    {
      g_list_store_remove_all (self->store);
      update_stack (self);
    }
  if (proxy == NULL)
    return;
  g_signal_connect (proxy, "integration-status-changed", G_CALLBACK (on_status_changed), self);
  list_integrations (self);
}

void
prd_admin_integrations_page_refresh (PrdAdminIntegrationsPage *self)
{
  g_return_if_fail (PRD_IS_ADMIN_INTEGRATIONS_PAGE (self));

  list_integrations (self);
}

/**
 * prd_admin_integrations_page_get_model:
 *
 * Returns: (transfer none): the rows (#PrdAdminRecord)
 */
GListModel *
prd_admin_integrations_page_get_model (PrdAdminIntegrationsPage *self)
{
  g_return_val_if_fail (PRD_IS_ADMIN_INTEGRATIONS_PAGE (self), NULL);

  return G_LIST_MODEL (self->store);
}

guint
prd_admin_integrations_page_get_n_refreshes (PrdAdminIntegrationsPage *self)
{
  g_return_val_if_fail (PRD_IS_ADMIN_INTEGRATIONS_PAGE (self), 0);

  return self->n_refreshes;
}
