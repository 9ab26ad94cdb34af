/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * PrdAdminJobsPage: the hub's AI jobs, queued, running and finished, in a
 * sortable, filterable GtkColumnView. The list is read once when the hub
 * appears and then kept by AiJobChanged; the running jobs' durations tick
 * every second. AiJobChanged signals that come together are applied in one
 * go when the main loop is idle; a known job keeps its row, which changes in
 * place. Like the hub, which lists only the last
 * PRD_ADMIN_JOBS_MAX_FINISHED finished jobs, the page keeps that many
 * finished rows, dropping the one that finished first. A queued or running job is cancelled through
 * the `jobs.cancel` action (the row's button), after a confirmation.
 */
#define G_LOG_DOMAIN "prd-admin"

#include "config.h"

#include <glib/gi18n.h>

#include "prd-admin-client.h"
#include "prd-admin-columns.h"
#include "prd-admin-record.h"

#include "prd-admin-jobs-page.h"

struct _PrdAdminJobsPage
{
  AdwBin parent_instance;

  GtkSearchEntry *search_entry;
  GtkStack *stack;
  GtkColumnView *view;
  GtkColumnViewColumn *prd_column;
  GtkColumnViewColumn *user_column;
  GtkColumnViewColumn *organization_column;
  GtkColumnViewColumn *state_column;
  GtkColumnViewColumn *tokens_column;
  GtkColumnViewColumn *duration_column;
  GtkColumnViewColumn *started_column;
  GtkColumnViewColumn *action_column;
  AdwStatusPage *error_page;

  PrdDbusHub1 *proxy;        /* (owned) (nullable) */
  gboolean failed;           /* the last listing failed: the error page shows */
  GtkWindow *dialog;         /* (unowned) (nullable): the open confirmation */
  GCancellable *cancellable; /* (owned) (nullable) */
  GListStore *store;         /* (owned) (element-type PrdAdminRecord) */
  GHashTable *rows;          /* (owned) (element-type utf8 PrdAdminRecord): store's, by id */
  GPtrArray *pending;        /* (owned) (element-type GVariant): AiJobChanged not applied yet */
  guint flush_id;
  GtkFilterListModel *filtered; /* (owned) */
  GtkSortListModel *sorted;     /* (owned) */
  GtkCustomFilter *filter;      /* (unowned) */
  char *needle;                 /* (owned) (nullable) */
  GQueue finished;              /* (element-type utf8) (owned): the ids of the finished rows,
                                   the one that finished first at the head */
  guint tick_id;
};

G_DEFINE_FINAL_TYPE (PrdAdminJobsPage, prd_admin_jobs_page, ADW_TYPE_BIN)

static const char *const filter_keys[] = {
  "prd-id", "user-id", "organization", "state", "id", "error-code", NULL,
};

static const char *const active_states[] = { "queued", "streaming", NULL };

/* What the columns sort by and the filter reads: a change of another key
 * (the pieces streamed so far) changes the row's cells only. */
static const char *const placing_keys[] = {
  "prd-id",   "user-id",    "organization", "state",      "tokens",
  "duration", "created-at", "id",           "error-code", NULL,
};

static gboolean
is_finished (PrdAdminRecord *record)
{
  return !g_strv_contains (active_states, prd_admin_record_get_string (record, "state"));
}

/* When a finished job ended, as near as its record says (µs). */
static gint64
finished_at (PrdAdminRecord *record)
{
  gint64 started = prd_admin_record_get_int (record, "started-at");

  if (started > 0)
    return started + prd_admin_record_get_int (record, "duration") * 1000;
  return prd_admin_record_get_int (record, "created-at");
}

static int
compare_finished (gconstpointer a, gconstpointer b)
{
  gint64 time_a = finished_at (*(PrdAdminRecord **) a);
  gint64 time_b = finished_at (*(PrdAdminRecord **) b);

  return (time_a > time_b) - (time_a < time_b);
}

/* Drops the finished rows beyond the hub's cap, the one that finished first
 * first. */
static void
trim_finished (PrdAdminJobsPage *self)
{
  while (self->finished.length > PRD_ADMIN_JOBS_MAX_FINISHED)
    {
      g_autofree char *oldest = g_queue_pop_head (&self->finished);

      prd_admin_store_forget (self->store, self->rows, oldest);
    }
}

/* Learns the finished rows of a fresh listing, in the order they ended. */
static void
reset_finished (PrdAdminJobsPage *self)
{
  g_autoptr (GPtrArray) records = g_ptr_array_new_with_free_func (g_object_unref);
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->store));

  g_queue_clear_full (&self->finished, g_free);
  for (guint i = 0; i < n; i++)
    {
      PrdAdminRecord *record = g_list_model_get_item (G_LIST_MODEL (self->store), i);

      if (is_finished (record))
        g_ptr_array_add (records, record);
      else
        g_object_unref (record);
    }
  g_ptr_array_sort (records, compare_finished);
  for (guint i = 0; i < records->len; i++)
    g_queue_push_tail (&self->finished,
                       g_strdup (prd_admin_record_get_string (records->pdata[i], "id")));
  trim_finished (self);
}

static void
update_stack (PrdAdminJobsPage *self)
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

static char *
format_duration (PrdAdminRecord *record, const char *key)
{
  const char *state = prd_admin_record_get_string (record, "state");
  gint64 started = prd_admin_record_get_int (record, "started-at");

  if (g_str_equal (state, "queued"))
    return g_strdup ("");
  if (g_str_equal (state, "streaming") && started > 0)
    return prd_admin_duration_to_string ((g_get_real_time () - started) / 1000);
  return prd_admin_duration_to_string (prd_admin_record_get_int (record, key));
}

static char *
format_tokens (PrdAdminRecord *record, const char *key)
{
  gint64 tokens = prd_admin_record_get_int (record, key);

  if (tokens > 0)
    return g_strdup_printf ("%" G_GINT64_FORMAT, tokens);
  if (g_str_equal (prd_admin_record_get_string (record, "state"), "queued"))
    return g_strdup ("");
  /* Translators: the pieces of an AI answer streamed so far, while the token count is unknown */
  return g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%u piece", "%u pieces",
                                       (gulong) prd_admin_record_get_int (record, "chunks")),
                          (guint) prd_admin_record_get_int (record, "chunks"));
}

static char *
format_state (PrdAdminRecord *record, const char *key)
{
  const char *code = prd_admin_record_get_string (record, "error-code");
  const char *state = prd_admin_word (prd_admin_record_get_string (record, key));

  if (*code != '\0' && !g_str_equal (code, "CANCELLED"))
    /* Translators: a failed AI job's state and its error code, e.g. "Failed (PROVIDER_TIMEOUT)" */
    return g_strdup_printf (_ ("%s (%s)"), state, code);
  return g_strdup (state);
}

/* ---- the list ---------------------------------------------------------------------- */

/* Applies the AiJobChanged signals that came since the last time, in one go. */
static void
flush_pending (PrdAdminJobsPage *self)
{
  g_autoptr (GPtrArray) jobs = g_steal_pointer (&self->pending);

  g_clear_handle_id (&self->flush_id, g_source_remove);
  if (jobs == NULL)
    return;
  prd_admin_store_merge (self->store, self->rows, jobs, placing_keys, FALSE);
  for (guint i = 0; i < jobs->len; i++)
    {
      const char *id = NULL;
      const char *state = NULL;

      g_variant_lookup (jobs->pdata[i], "id", "&s", &id);
      g_variant_lookup (jobs->pdata[i], "state", "&s", &state);
      if (id != NULL && !g_strv_contains (active_states, state != NULL ? state : "") &&
          g_queue_find_custom (&self->finished, id, (GCompareFunc) g_strcmp0) == NULL)
        g_queue_push_tail (&self->finished, g_strdup (id));
    }
  trim_finished (self);
  update_stack (self);
}

static gboolean
on_flush (gpointer user_data)
{
  PrdAdminJobsPage *self = user_data;

  self->flush_id = 0;
  flush_pending (self);
  return G_SOURCE_REMOVE;
}

static void
on_listed (GObject *source, GAsyncResult *result, gpointer user_data)
{
  PrdAdminJobsPage *self = user_data;
  g_autoptr (GVariant) jobs = NULL;
  g_autoptr (GPtrArray) dicts = g_ptr_array_new_with_free_func ((GDestroyNotify) g_variant_unref);
  g_autoptr (GError) error = NULL;

  if (!prd_dbus_hub1_call_list_ai_jobs_finish (PRD_DBUS_HUB1 (source), &jobs, result, &error))
    {
      g_autofree char *message = NULL;
      g_autofree char *description = NULL;

      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      g_clear_object (&self->cancellable);
      g_debug ("ListAiJobs: %s", error->message);
      /* Not "no jobs": the hub did not say. */
      message = prd_admin_error_message (error);
      /* Translators: %s says why */
      description = g_strdup_printf (_ ("Cannot read the hub: %s"), message);
      adw_status_page_set_description (self->error_page, description);
      self->failed = TRUE;
      update_stack (self);
      return;
    }
  g_clear_object (&self->cancellable);
  self->failed = FALSE;
  /* The signals that came before the answer are older than it. */
  flush_pending (self);
  for (gsize i = 0; i < g_variant_n_children (jobs); i++)
    g_ptr_array_add (dicts, g_variant_get_child_value (jobs, i));
  prd_admin_store_merge (self->store, self->rows, dicts, placing_keys, TRUE);
  reset_finished (self);
  update_stack (self);
}

static void
list_jobs (PrdAdminJobsPage *self)
{
  if (self->proxy == NULL)
    return;
  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  self->cancellable = g_cancellable_new ();
  prd_dbus_hub1_call_list_ai_jobs (self->proxy, self->cancellable, on_listed, self);
}

/* Kept for the next idle moment: a burst of signals (the hub sends up to
 * one per job twice a second) is one change of the list, not one each. */
static void
on_job_changed (PrdDbusHub1 *proxy, GVariant *job, gpointer user_data)
{
  PrdAdminJobsPage *self = user_data;

  if (!g_variant_is_of_type (job, G_VARIANT_TYPE_VARDICT))
    return;
  if (self->pending == NULL)
    self->pending = g_ptr_array_new_with_free_func ((GDestroyNotify) g_variant_unref);
  g_ptr_array_add (self->pending, g_variant_ref_sink (job));
  if (self->flush_id == 0)
    self->flush_id = g_idle_add (on_flush, self);
}

/* The running jobs' durations grow: only the duration cells on screen are
 * formatted again, and only those that differ change. */
static gboolean
on_tick (gpointer user_data)
{
  PrdAdminJobsPage *self = user_data;

  if (gtk_widget_get_mapped (GTK_WIDGET (self->view)))
    prd_admin_column_refresh (self->duration_column);
  return G_SOURCE_CONTINUE;
}

static gboolean
match_job (gpointer item, gpointer user_data)
{
  PrdAdminJobsPage *self = user_data;

  return prd_admin_record_matches (item, filter_keys, self->needle);
}

static void
on_search_changed (GtkSearchEntry *entry, gpointer user_data)
{
  PrdAdminJobsPage *self = user_data;

  g_free (self->needle);
  self->needle = g_utf8_casefold (gtk_editable_get_text (GTK_EDITABLE (entry)), -1);
  gtk_filter_changed (GTK_FILTER (self->filter), GTK_FILTER_CHANGE_DIFFERENT);
  update_stack (self);
}

/* ---- cancelling --------------------------------------------------------------------- */

typedef struct
{
  PrdAdminJobsPage *self; /* (owned) */
  char *id;
} Cancel;

static void
cancel_free (Cancel *cancel)
{
  g_clear_object (&cancel->self);
  g_free (cancel->id);
  g_free (cancel);
}

static void
on_cancelled (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Cancel *cancel = user_data;
  g_autoptr (GError) error = NULL;
  g_autofree char *title = NULL;

  if (prd_dbus_hub1_call_cancel_ai_job_finish (PRD_DBUS_HUB1 (source), result, &error))
    title = g_strdup (_ ("AI job cancelled"));
  else
    {
      g_autofree char *message = prd_admin_error_message (error);

      /* Translators: a toast; %s says why */
      title = g_strdup_printf (_ ("Could not cancel the AI job: %s"), message);
    }
  prd_admin_show_toast (GTK_WIDGET (cancel->self), title);
  cancel_free (cancel);
}

static void
on_cancel_response (AdwMessageDialog *dialog, const char *response, gpointer user_data)
{
  Cancel *cancel = user_data;

  if (cancel->self->dialog == GTK_WINDOW (dialog))
    g_clear_weak_pointer (&cancel->self->dialog);
  if (!g_str_equal (response, "stop") || cancel->self->proxy == NULL)
    {
      cancel_free (cancel);
      return;
    }
  prd_dbus_hub1_call_cancel_ai_job (cancel->self->proxy, cancel->id, NULL, on_cancelled, cancel);
}

/* The open confirmation goes when its hub does. */
static void
close_dialog (PrdAdminJobsPage *self)
{
  GtkWindow *dialog = self->dialog;

  if (dialog == NULL)
    return;
  g_clear_weak_pointer (&self->dialog);
  gtk_window_close (dialog);
}

static void
cancel_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  PrdAdminJobsPage *self = PRD_ADMIN_JOBS_PAGE (widget);
  const char *id = g_variant_get_string (parameter, NULL);
  PrdAdminRecord *record = g_hash_table_lookup (self->rows, id);
  g_autofree char *body = NULL;
  g_autofree char *user = NULL;
  g_autofree char *prd = NULL;
  GtkWidget *dialog;
  Cancel *cancel;

  if (record == NULL)
    return;
  close_dialog (self);
  user = prd_admin_shorten (prd_admin_record_get_string (record, "user-id"));
  prd = prd_admin_shorten (prd_admin_record_get_string (record, "prd-id"));
  cancel = g_new0 (Cancel, 1);
  cancel->self = g_object_ref (self);
  cancel->id = g_strdup (id);
  body = g_strdup_printf (
      /* Translators: %1$s is a user id, %2$s a PRD id */
      _ ("The AI stops answering %1$s in %2$s. What it has written so far stays in the PRD."), user,
      prd);
  dialog =
      GTK_WIDGET (prd_admin_confirm_dialog_new (widget, _ ("Cancel the AI Job?"), body, "keep",
                                                _ ("_Keep Running"), "stop", _ ("_Cancel Job")));
  g_signal_connect (dialog, "response", G_CALLBACK (on_cancel_response), cancel);
  g_set_weak_pointer (&self->dialog, GTK_WINDOW (dialog));
  gtk_window_present (GTK_WINDOW (dialog));
}

/* The accessible name of a row's Cancel button. */
static char *
format_cancel_label (PrdAdminRecord *record, const char *key)
{
  g_autofree char *user = prd_admin_shorten (prd_admin_record_get_string (record, "user-id"));
  g_autofree char *prd = prd_admin_shorten (prd_admin_record_get_string (record, "prd-id"));

  /* Translators: a row's button; %1$s is a user id, %2$s a PRD id */
  return g_strdup_printf (_ ("Cancel the AI job of %1$s in %2$s…"), user, prd);
}

/* ---- object ------------------------------------------------------------------------ */

static void
prd_admin_jobs_page_dispose (GObject *object)
{
  PrdAdminJobsPage *self = PRD_ADMIN_JOBS_PAGE (object);

  prd_admin_jobs_page_set_proxy (self, NULL);
  g_clear_object (&self->sorted);
  g_clear_object (&self->filtered);
  g_clear_object (&self->store);
  g_clear_pointer (&self->rows, g_hash_table_unref);

  G_OBJECT_CLASS (prd_admin_jobs_page_parent_class)->dispose (object);
}

static void
prd_admin_jobs_page_finalize (GObject *object)
{
  PrdAdminJobsPage *self = PRD_ADMIN_JOBS_PAGE (object);

  g_free (self->needle);
  g_queue_clear_full (&self->finished, g_free);

  G_OBJECT_CLASS (prd_admin_jobs_page_parent_class)->finalize (object);
}

static void
prd_admin_jobs_page_class_init (PrdAdminJobsPageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = prd_admin_jobs_page_dispose;
  object_class->finalize = prd_admin_jobs_page_finalize;

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/org/prdtool/Hub/Admin/prd-admin-jobs-page.ui");
  gtk_widget_class_bind_template_child (widget_class, PrdAdminJobsPage, search_entry);
  gtk_widget_class_bind_template_child (widget_class, PrdAdminJobsPage, stack);
  gtk_widget_class_bind_template_child (widget_class, PrdAdminJobsPage, view);
  gtk_widget_class_bind_template_child (widget_class, PrdAdminJobsPage, error_page);
  gtk_widget_class_bind_template_child (widget_class, PrdAdminJobsPage, prd_column);
  gtk_widget_class_bind_template_child (widget_class, PrdAdminJobsPage, user_column);
  gtk_widget_class_bind_template_child (widget_class, PrdAdminJobsPage, organization_column);
  gtk_widget_class_bind_template_child (widget_class, PrdAdminJobsPage, state_column);
  gtk_widget_class_bind_template_child (widget_class, PrdAdminJobsPage, tokens_column);
  gtk_widget_class_bind_template_child (widget_class, PrdAdminJobsPage, duration_column);
  gtk_widget_class_bind_template_child (widget_class, PrdAdminJobsPage, started_column);
  gtk_widget_class_bind_template_child (widget_class, PrdAdminJobsPage, action_column);

  /**
   * PrdAdminJobsPage|jobs.cancel:
   * @id: a job id
   *
   * Asks for confirmation, then cancels the job.
   */
  gtk_widget_class_install_action (widget_class, "jobs.cancel", "s", cancel_action);
}

static void
prd_admin_jobs_page_init (PrdAdminJobsPage *self)
{
  GtkSelectionModel *selection;

  gtk_widget_init_template (GTK_WIDGET (self));
  g_signal_connect (self->search_entry, "search-changed", G_CALLBACK (on_search_changed), self);

  self->store = g_list_store_new (PRD_TYPE_ADMIN_RECORD);
  self->rows = prd_admin_rows_new ();
  self->filter = gtk_custom_filter_new (match_job, self, NULL);
  self->filtered = gtk_filter_list_model_new (G_LIST_MODEL (g_object_ref (self->store)),
                                              GTK_FILTER (self->filter));
  self->sorted = gtk_sort_list_model_new (G_LIST_MODEL (g_object_ref (self->filtered)),
                                          g_object_ref (gtk_column_view_get_sorter (self->view)));
  selection =
      GTK_SELECTION_MODEL (gtk_no_selection_new (G_LIST_MODEL (g_object_ref (self->sorted))));
  gtk_column_view_set_model (self->view, selection);
  g_object_unref (selection);

  prd_admin_column_set_text (self->prd_column, "prd-id", prd_admin_format_string,
                             PRD_ADMIN_SORT_TEXT);
  prd_admin_column_set_text (self->user_column, "user-id", prd_admin_format_string,
                             PRD_ADMIN_SORT_TEXT);
  prd_admin_column_set_text (self->organization_column, "organization", prd_admin_format_string,
                             PRD_ADMIN_SORT_TEXT);
  prd_admin_column_set_text (self->state_column, "state", format_state, PRD_ADMIN_SORT_TEXT);
  prd_admin_column_set_text (self->tokens_column, "tokens", format_tokens, PRD_ADMIN_SORT_NUMBER);
  prd_admin_column_set_text (self->duration_column, "duration", format_duration,
                             PRD_ADMIN_SORT_NUMBER);
  prd_admin_column_set_text (self->started_column, "created-at", prd_admin_format_clock,
                             PRD_ADMIN_SORT_NUMBER);
  prd_admin_column_set_button (self->action_column, "process-stop-symbolic", _ ("Cancel Job…"),
                               "jobs.cancel", "id", "state", active_states, format_cancel_label);
  /* Newest first. */
  gtk_column_view_sort_by_column (self->view, self->started_column, GTK_SORT_DESCENDING);
  update_stack (self);
}

/**
 * prd_admin_jobs_page_set_proxy:
 * @proxy: (nullable): the hub, %NULL when none runs
 */
void
prd_admin_jobs_page_set_proxy (PrdAdminJobsPage *self, PrdDbusHub1 *proxy)
{
  g_return_if_fail (PRD_IS_ADMIN_JOBS_PAGE (self));

  if (self->proxy == proxy)
    return;
  close_dialog (self);
  self->failed = FALSE;
  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_clear_handle_id (&self->tick_id, g_source_remove);
  g_clear_handle_id (&self->flush_id, g_source_remove);
  g_clear_pointer (&self->pending, g_ptr_array_unref);
  if (self->proxy != NULL)
    g_signal_handlers_disconnect_by_data (self->proxy, self);
  g_set_object (&self->proxy, proxy);
  g_queue_clear_full (&self->finished, g_free);
  if (self->rows != NULL)
    g_hash_table_remove_all (self->rows);
  if (self->store != NULL)
    {
      g_list_store_remove_all (self->store);
      update_stack (self);
    }
  if (proxy == NULL)
    return;
  g_signal_connect (proxy, "ai-job-changed", G_CALLBACK (on_job_changed), self);
  self->tick_id = g_timeout_add_seconds (1, on_tick, self);
  list_jobs (self);
}

void
prd_admin_jobs_page_refresh (PrdAdminJobsPage *self)
{
  g_return_if_fail (PRD_IS_ADMIN_JOBS_PAGE (self));

  list_jobs (self);
}

void
prd_admin_jobs_page_focus_filter (PrdAdminJobsPage *self)
{
  g_return_if_fail (PRD_IS_ADMIN_JOBS_PAGE (self));

  gtk_widget_grab_focus (GTK_WIDGET (self->search_entry));
}

/**
 * prd_admin_jobs_page_get_model:
 *
 * Returns: (transfer none): the rows as shown: filtered and sorted
 */
GListModel *
prd_admin_jobs_page_get_model (PrdAdminJobsPage *self)
{
  g_return_val_if_fail (PRD_IS_ADMIN_JOBS_PAGE (self), NULL);

  return G_LIST_MODEL (self->sorted);
}
