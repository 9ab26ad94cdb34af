/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * PrdAdminSessionsPage: the hub's sessions (namespace connections) in a
 * sortable, filterable GtkColumnView, listed again whenever the hub says
 * SessionsChanged; a listing changes only the rows that differ (a session
 * that changed keeps its row, which changes in place). A session is disconnected through the
 * `sessions.disconnect` action (the row's button), after a confirmation
 * that asks for the reason the client is told.
 */
#define G_LOG_DOMAIN "prd-admin"

#include "config.h"

#include <glib/gi18n.h>

#include "prd-admin-client.h"
#include "prd-admin-columns.h"
#include "prd-admin-record.h"

#include "prd-admin-sessions-page.h"

struct _PrdAdminSessionsPage
{
  AdwBin parent_instance;

  GtkSearchEntry *search_entry;
  GtkStack *stack;
  GtkColumnView *view;
  GtkColumnViewColumn *user_column;
  GtkColumnViewColumn *organization_column;
  GtkColumnViewColumn *prd_column;
  GtkColumnViewColumn *mode_column;
  GtkColumnViewColumn *status_column;
  GtkColumnViewColumn *transport_column;
  GtkColumnViewColumn *since_column;
  GtkColumnViewColumn *action_column;
  AdwStatusPage *error_page;

  PrdDbusHub1 *proxy;           /* (owned) (nullable) */
  GCancellable *cancellable;    /* (owned) (nullable): the listing in flight */
  GListStore *store;            /* (owned) (element-type PrdAdminRecord) */
  GHashTable *rows;             /* (owned) (element-type utf8 PrdAdminRecord): store's, by id */
  GtkFilterListModel *filtered; /* (owned) */
  GtkSortListModel *sorted;     /* (owned) */
  GtkCustomFilter *filter;      /* (unowned): the filtered model's */
  char *needle;                 /* (owned) (nullable) casefolded filter text */
  gboolean again;               /* list again when the listing in flight is done */
  gboolean failed;              /* the last listing failed: the error page shows */
  gint64 listing_started;       /* monotonic µs: the listing in flight */
  gint64 last_cost;             /* µs: the last listing, the call and its merge */
  guint next_id;                /* the next listing, after a gap */
  guint n_refreshes;
  GtkWindow *dialog; /* (unowned) (nullable): the open confirmation */
  char *refocus_id;  /* (owned) (nullable): the row disconnected, to focus past */
  guint refocus_position;
};

G_DEFINE_FINAL_TYPE (PrdAdminSessionsPage, prd_admin_sessions_page, ADW_TYPE_BIN)

static const char *const filter_keys[] = {
  "user-id", "name", "organization", "prd-id", "namespace", "remote-address", "status", NULL,
};

/* What the columns sort by and the filter reads: a change of another key
 * changes the row's cells only. */
static const char *const placing_keys[] = {
  "user-id", "name",      "organization",    "prd-id",         "namespace", "mode",
  "status",  "transport", "connected-since", "remote-address", NULL,
};

static void
update_stack (PrdAdminSessionsPage *self)
{
  if (self->failed)
    gtk_stack_set_visible_child_name (self->stack, "error");
  else if (g_list_model_get_n_items (G_LIST_MODEL (self->store)) == 0)
    gtk_stack_set_visible_child_name (self->stack, "empty");
  else if (g_list_model_get_n_items (G_LIST_MODEL (self->sorted)) == 0)
    gtk_stack_set_visible_child_name (self->stack, "no-match");
  else
    gtk_stack_set_visible_child_name (self->stack, "list");
}

static void list_sessions (PrdAdminSessionsPage *self);
static void refocus (PrdAdminSessionsPage *self);

static gboolean
on_next_listing (gpointer user_data)
{
  PrdAdminSessionsPage *self = user_data;

  self->next_id = 0;
  list_sessions (self);
  return G_SOURCE_REMOVE;
}

/* The listing a change asked for meanwhile, after a gap of five times
 * what the last one cost: with thousands of sessions a listing costs the
 * window about a second, and a hub whose sessions churn would otherwise
 * keep it listing back to back. */
static void
list_again_later (PrdAdminSessionsPage *self)
{
  guint gap_ms = (guint) MIN (5 * self->last_cost / 1000, 60 * 1000);

  self->again = FALSE;
  g_clear_handle_id (&self->next_id, g_source_remove);
  self->next_id = g_timeout_add (MAX (gap_ms, 1), on_next_listing, self);
}

static void
on_listed (GObject *source, GAsyncResult *result, gpointer user_data)
{
  PrdAdminSessionsPage *self = user_data;
  g_autoptr (GVariant) sessions = NULL;
  g_autoptr (GPtrArray) dicts = g_ptr_array_new_with_free_func ((GDestroyNotify) g_variant_unref);
  g_autoptr (GError) error = NULL;

  if (!prd_dbus_hub1_call_list_sessions_finish (PRD_DBUS_HUB1 (source), &sessions, result, &error))
    {
      g_autofree char *message = NULL;
      g_autofree char *description = NULL;

      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      g_clear_object (&self->cancellable);
      g_debug ("ListSessions: %s", error->message);
      /* Not "nobody is connected": the hub did not say. */
      message = prd_admin_error_message (error);
      /* Translators: %s says why */
      description = g_strdup_printf (_ ("Cannot read the hub: %s"), message);
      adw_status_page_set_description (self->error_page, description);
      self->failed = TRUE;
      update_stack (self);
      self->last_cost = g_get_monotonic_time () - self->listing_started;
      /* A change came meanwhile: the next listing may well succeed. */
      if (self->again)
        list_again_later (self);
      return;
    }
  g_clear_object (&self->cancellable);
  self->failed = FALSE;
  for (gsize i = 0; i < g_variant_n_children (sessions); i++)
    g_ptr_array_add (dicts, g_variant_get_child_value (sessions, i));
  prd_admin_store_merge (self->store, self->rows, dicts, placing_keys, TRUE);
  self->n_refreshes++;
  update_stack (self);
  refocus (self);
  self->last_cost = g_get_monotonic_time () - self->listing_started;
  if (self->again)
    list_again_later (self);
}

/* One listing at a time; changes meanwhile list once more, a while after
 * it (list_again_later). */
static void
list_sessions (PrdAdminSessionsPage *self)
{
  if (self->proxy == NULL)
    return;
  if (self->cancellable != NULL || self->next_id != 0)
    {
      self->again = self->cancellable != NULL;
      return;
    }
  self->again = FALSE;
  self->cancellable = g_cancellable_new ();
  self->listing_started = g_get_monotonic_time ();
  prd_dbus_hub1_call_list_sessions (self->proxy, self->cancellable, on_listed, self);
}

static void
on_sessions_changed (PrdDbusHub1 *proxy, gpointer user_data)
{
  list_sessions (PRD_ADMIN_SESSIONS_PAGE (user_data));
}

static gboolean
match_session (gpointer item, gpointer user_data)
{
  PrdAdminSessionsPage *self = user_data;

  return prd_admin_record_matches (item, filter_keys, self->needle);
}

static void
on_search_changed (GtkSearchEntry *entry, gpointer user_data)
{
  PrdAdminSessionsPage *self = user_data;

  g_free (self->needle);
  self->needle = g_utf8_casefold (gtk_editable_get_text (GTK_EDITABLE (entry)), -1);
  gtk_filter_changed (GTK_FILTER (self->filter), GTK_FILTER_CHANGE_DIFFERENT);
  update_stack (self);
}

/* ---- disconnecting ---------------------------------------------------------------- */

/* The Disconnect button below @widget for the session @id, or NULL. */
static GtkWidget *
find_row_button (GtkWidget *widget, const char *id)
{
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found;

      if (GTK_IS_BUTTON (child) && gtk_widget_get_visible (child))
        {
          GVariant *target = gtk_actionable_get_action_target_value (GTK_ACTIONABLE (child));

          if (target != NULL && g_variant_is_of_type (target, G_VARIANT_TYPE_STRING) &&
              g_str_equal (g_variant_get_string (target, NULL), id))
            return child;
        }
      if ((found = find_row_button (child, id)) != NULL)
        return found;
    }
  return NULL;
}

/* After a disconnect, once the row is gone: the focus goes to the button of
 * the row now in its place (or the one before, or the list), not back to the
 * top of the window. */
static void
refocus (PrdAdminSessionsPage *self)
{
  GListModel *model = G_LIST_MODEL (self->sorted);
  guint n = g_list_model_get_n_items (model);
  GtkWidget *button = NULL;

  if (self->refocus_id == NULL || g_hash_table_contains (self->rows, self->refocus_id))
    return;
  g_clear_pointer (&self->refocus_id, g_free);
  if (n > 0)
    {
      g_autoptr (PrdAdminRecord) record =
          g_list_model_get_item (model, MIN (self->refocus_position, n - 1));

      button =
          find_row_button (GTK_WIDGET (self->view), prd_admin_record_get_string (record, "id"));
    }
  if (button == NULL || !gtk_widget_grab_focus (button))
    if (!gtk_widget_grab_focus (GTK_WIDGET (self->view)))
      gtk_widget_grab_focus (GTK_WIDGET (self->search_entry));
}

typedef struct
{
  PrdAdminSessionsPage *self; /* (owned) */
  char *id;
  char *who; /* shortened */
  guint position;
  GtkEntry *reason; /* (owned) */
} Disconnect;

static void
disconnect_free (Disconnect *disconnect)
{
  g_clear_object (&disconnect->self);
  g_free (disconnect->id);
  g_free (disconnect->who);
  g_clear_object (&disconnect->reason);
  g_free (disconnect);
}

static void
on_disconnected (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Disconnect *disconnect = user_data;
  PrdAdminSessionsPage *self = disconnect->self;
  g_autoptr (GError) error = NULL;
  g_autofree char *title = NULL;

  if (prd_dbus_hub1_call_disconnect_session_finish (PRD_DBUS_HUB1 (source), result, &error))
    {
      /* Translators: a toast, the outcome first; %s is a person's name */
      title = g_strdup_printf (_ ("Disconnected: %s"), disconnect->who);
      g_free (self->refocus_id);
      self->refocus_id = g_strdup (disconnect->id);
      self->refocus_position = disconnect->position;
      refocus (self);
    }
  else
    {
      g_autofree char *message = prd_admin_error_message (error);
      g_autofree char *shown = prd_admin_shorten (message);

      /* Translators: a toast; %1$s is a person's name, %2$s says why */
      title = g_strdup_printf (_ ("Not disconnected: %1$s: %2$s"), disconnect->who, shown);
    }
  prd_admin_show_toast (GTK_WIDGET (self), title);
  disconnect_free (disconnect);
}

static void
on_disconnect_response (AdwMessageDialog *dialog, const char *response, gpointer user_data)
{
  Disconnect *disconnect = user_data;
  PrdAdminSessionsPage *self = disconnect->self;

  if (self->dialog == GTK_WINDOW (dialog))
    g_clear_weak_pointer (&self->dialog);
  if (!g_str_equal (response, "disconnect") || self->proxy == NULL)
    {
      disconnect_free (disconnect);
      return;
    }
  prd_dbus_hub1_call_disconnect_session (self->proxy, disconnect->id,
                                         gtk_editable_get_text (GTK_EDITABLE (disconnect->reason)),
                                         NULL, on_disconnected, disconnect);
}

/* The open confirmation goes when its hub does: its button would do
 * nothing. */
static void
close_dialog (PrdAdminSessionsPage *self)
{
  GtkWindow *dialog = self->dialog;

  if (dialog == NULL)
    return;
  g_clear_weak_pointer (&self->dialog);
  /* Its close response ("cancel") frees what it holds. */
  gtk_window_close (dialog);
}

static void
disconnect_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  PrdAdminSessionsPage *self = PRD_ADMIN_SESSIONS_PAGE (widget);
  const char *id = g_variant_get_string (parameter, NULL);
  PrdAdminRecord *record = g_hash_table_lookup (self->rows, id);
  g_autofree char *heading = NULL;
  g_autofree char *body = NULL;
  g_autofree char *organization = NULL;
  g_autofree char *namespace = NULL;
  Disconnect *disconnect;
  GtkWidget *dialog;
  GtkWidget *entry;
  guint position = 0;

  if (record == NULL)
    return;
  close_dialog (self);
  disconnect = g_new0 (Disconnect, 1);
  disconnect->self = g_object_ref (self);
  disconnect->id = g_strdup (id);
  /* Names are the clients' own: a long one made the dialog taller than the
   * screen, its buttons out of reach. */
  disconnect->who = prd_admin_shorten (prd_admin_record_get_string (record, "name"));
  for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (self->sorted)); i++)
    {
      g_autoptr (PrdAdminRecord) item = g_list_model_get_item (G_LIST_MODEL (self->sorted), i);

      if (item == record)
        {
          position = i;
          break;
        }
    }
  disconnect->position = position;
  organization = prd_admin_shorten (prd_admin_record_get_string (record, "organization"));
  namespace = prd_admin_shorten (prd_admin_record_get_string (record, "namespace"));

  /* Translators: a dialog's heading; %s is a person's name */
  heading = g_strdup_printf (_ ("Disconnect %s?"), disconnect->who);
  body = g_strdup_printf (
      /* Translators: %1$s is a person's name, %2$s their organization, %3$s a namespace such as
         /prds */
      _ ("The connection of %1$s (%2$s) to %3$s is closed at once, and their client does not "
         "reconnect by itself. They are told the reason below."),
      disconnect->who, organization, namespace);
  dialog = GTK_WIDGET (prd_admin_confirm_dialog_new (widget, heading, body, "cancel", _ ("_Cancel"),
                                                     "disconnect", _ ("_Disconnect")));
  entry = gtk_entry_new ();
  gtk_entry_set_placeholder_text (GTK_ENTRY (entry), _ ("Reason (optional)"));
  gtk_entry_set_activates_default (GTK_ENTRY (entry), TRUE);
  gtk_accessible_update_property (GTK_ACCESSIBLE (entry), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _ ("Reason"), -1);
  disconnect->reason = GTK_ENTRY (g_object_ref (entry));
  adw_message_dialog_set_extra_child (ADW_MESSAGE_DIALOG (dialog), entry);
  g_signal_connect (dialog, "response", G_CALLBACK (on_disconnect_response), disconnect);
  g_set_weak_pointer (&self->dialog, GTK_WINDOW (dialog));
  gtk_window_present (GTK_WINDOW (dialog));
}

/* The accessible name of a row's Disconnect button. */
static char *
format_disconnect_label (PrdAdminRecord *record, const char *key)
{
  g_autofree char *who = prd_admin_shorten (prd_admin_record_get_string (record, "name"));
  g_autofree char *organization =
      prd_admin_shorten (prd_admin_record_get_string (record, "organization"));

  /* Translators: a row's button; %1$s is a person's name, %2$s their organization */
  return g_strdup_printf (_ ("Disconnect %1$s (%2$s)…"), who, organization);
}

/* ---- object ------------------------------------------------------------------------ */

static void
prd_admin_sessions_page_dispose (GObject *object)
{
  PrdAdminSessionsPage *self = PRD_ADMIN_SESSIONS_PAGE (object);

  prd_admin_sessions_page_set_proxy (self, NULL);
  g_clear_object (&self->sorted);
  g_clear_object (&self->filtered);
  g_clear_object (&self->store);
  g_clear_pointer (&self->rows, g_hash_table_unref);

  G_OBJECT_CLASS (prd_admin_sessions_page_parent_class)->dispose (object);
}

static void
prd_admin_sessions_page_finalize (GObject *object)
{
  PrdAdminSessionsPage *self = PRD_ADMIN_SESSIONS_PAGE (object);

  g_free (self->needle);
  g_free (self->refocus_id);

  G_OBJECT_CLASS (prd_admin_sessions_page_parent_class)->finalize (object);
}

static void
prd_admin_sessions_page_class_init (PrdAdminSessionsPageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = prd_admin_sessions_page_dispose;
  object_class->finalize = prd_admin_sessions_page_finalize;

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/org/prdtool/Hub/Admin/prd-admin-sessions-page.ui");
  gtk_widget_class_bind_template_child (widget_class, PrdAdminSessionsPage, search_entry);
  gtk_widget_class_bind_template_child (widget_class, PrdAdminSessionsPage, stack);
  gtk_widget_class_bind_template_child (widget_class, PrdAdminSessionsPage, view);
  gtk_widget_class_bind_template_child (widget_class, PrdAdminSessionsPage, user_column);
  gtk_widget_class_bind_template_child (widget_class, PrdAdminSessionsPage, organization_column);
  gtk_widget_class_bind_template_child (widget_class, PrdAdminSessionsPage, prd_column);
  gtk_widget_class_bind_template_child (widget_class, PrdAdminSessionsPage, mode_column);
  gtk_widget_class_bind_template_child (widget_class, PrdAdminSessionsPage, status_column);
  gtk_widget_class_bind_template_child (widget_class, PrdAdminSessionsPage, transport_column);
  gtk_widget_class_bind_template_child (widget_class, PrdAdminSessionsPage, since_column);
  gtk_widget_class_bind_template_child (widget_class, PrdAdminSessionsPage, action_column);
  gtk_widget_class_bind_template_child (widget_class, PrdAdminSessionsPage, error_page);

  /**
   * PrdAdminSessionsPage|sessions.disconnect:
   * @id: a session id
   *
   * Asks for confirmation and a reason, then disconnects the session.
   */
  gtk_widget_class_install_action (widget_class, "sessions.disconnect", "s", disconnect_action);
}

static void
prd_admin_sessions_page_init (PrdAdminSessionsPage *self)
{
  GtkSelectionModel *selection;

  gtk_widget_init_template (GTK_WIDGET (self));
  g_signal_connect (self->search_entry, "search-changed", G_CALLBACK (on_search_changed), self);

  self->store = g_list_store_new (PRD_TYPE_ADMIN_RECORD);
  self->rows = prd_admin_rows_new ();
  self->filter = gtk_custom_filter_new (match_session, self, NULL);
  self->filtered = gtk_filter_list_model_new (G_LIST_MODEL (g_object_ref (self->store)),
                                              GTK_FILTER (self->filter));
  self->sorted = gtk_sort_list_model_new (G_LIST_MODEL (g_object_ref (self->filtered)),
                                          g_object_ref (gtk_column_view_get_sorter (self->view)));
  selection =
      GTK_SELECTION_MODEL (gtk_no_selection_new (G_LIST_MODEL (g_object_ref (self->sorted))));
  gtk_column_view_set_model (self->view, selection);
  g_object_unref (selection);

  prd_admin_column_set_text (self->user_column, "name", prd_admin_format_string,
                             PRD_ADMIN_SORT_TEXT);
  prd_admin_column_set_text (self->organization_column, "organization", prd_admin_format_string,
                             PRD_ADMIN_SORT_TEXT);
  prd_admin_column_set_text (self->prd_column, "prd-id", prd_admin_format_string,
                             PRD_ADMIN_SORT_TEXT);
  prd_admin_column_set_text (self->mode_column, "mode", prd_admin_format_word, PRD_ADMIN_SORT_TEXT);
  prd_admin_column_set_text (self->status_column, "status", prd_admin_format_word,
                             PRD_ADMIN_SORT_TEXT);
  prd_admin_column_set_text (self->transport_column, "transport", prd_admin_format_word,
                             PRD_ADMIN_SORT_TEXT);
  prd_admin_column_set_text (self->since_column, "connected-since", prd_admin_format_clock,
                             PRD_ADMIN_SORT_NUMBER);
  prd_admin_column_set_button (self->action_column, "system-log-out-symbolic", _ ("Disconnect…"),
                               "sessions.disconnect", "id", NULL, NULL, format_disconnect_label);
  gtk_column_view_sort_by_column (self->view, self->user_column, GTK_SORT_ASCENDING);
  update_stack (self);
}

/**
 * prd_admin_sessions_page_set_proxy:
 * @proxy: (nullable): the hub, %NULL when none runs
 */
void
prd_admin_sessions_page_set_proxy (PrdAdminSessionsPage *self, PrdDbusHub1 *proxy)
{
  g_return_if_fail (PRD_IS_ADMIN_SESSIONS_PAGE (self));

  if (self->proxy == proxy)
    return;
  close_dialog (self);
  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_clear_handle_id (&self->next_id, g_source_remove);
  self->again = FALSE;
  self->failed = FALSE;
  self->last_cost = 0;
  g_clear_pointer (&self->refocus_id, g_free);
  if (self->proxy != NULL)
    g_signal_handlers_disconnect_by_data (self->proxy, self);
  g_set_object (&self->proxy, proxy);
  if (self->rows != NULL)
    g_hash_table_remove_all (self->rows);
  if (self->store != NULL)
    {
      g_list_store_remove_all (self->store);
      update_stack (self);
    }
  if (proxy == NULL)
    return;
  g_signal_connect (proxy, "sessions-changed", G_CALLBACK (on_sessions_changed), self);
  list_sessions (self);
}

void
prd_admin_sessions_page_refresh (PrdAdminSessionsPage *self)
{
  g_return_if_fail (PRD_IS_ADMIN_SESSIONS_PAGE (self));

  list_sessions (self);
}

void
prd_admin_sessions_page_focus_filter (PrdAdminSessionsPage *self)
{
  g_return_if_fail (PRD_IS_ADMIN_SESSIONS_PAGE (self));

  gtk_widget_grab_focus (GTK_WIDGET (self->search_entry));
}

/**
 * prd_admin_sessions_page_get_model:
 *
 * Returns: (transfer none): the rows as shown: filtered and sorted
 */
GListModel *
prd_admin_sessions_page_get_model (PrdAdminSessionsPage *self)
{
  g_return_val_if_fail (PRD_IS_ADMIN_SESSIONS_PAGE (self), NULL);

  return G_LIST_MODEL (self->sorted);
}

/* How many listings have arrived (tests wait for the next one). */
guint
prd_admin_sessions_page_get_n_refreshes (PrdAdminSessionsPage *self)
{
  g_return_val_if_fail (PRD_IS_ADMIN_SESSIONS_PAGE (self), 0);

  return self->n_refreshes;
}
