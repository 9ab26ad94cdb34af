/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * What the list pages share: text and button columns for GtkColumnView
 * reading PrdAdminRecord keys, the words the hub sends (states, modes…)
 * translated for people, times and durations, toasts, filtering, and
 * keeping a list store in step with the hub, changing only the rows that
 * differ (the cells of a row that changes in place follow its record).
 */
#define G_LOG_DOMAIN "prd-admin"

#include "config.h"

#include <string.h>

#include <glib/gi18n.h>

#include "prd-admin-columns.h"

typedef struct
{
  const char *key; /* static */
  PrdAdminFormatFunc format;
  GHashTable *bound; /* (owned) (element-type GtkListItem): the cells bound to a row */
} TextColumn;

static void
text_column_free (TextColumn *column)
{
  g_hash_table_unref (column->bound);
  g_free (column);
}

typedef struct
{
  const char *icon_name; /* static, like the rest */
  const char *tooltip;
  const char *action_name;
  const char *id_key;
  const char *sensitive_key;
  const char *const *sensitive_values;
  PrdAdminFormatFunc label; /* (nullable): the button's name for the row */
} ButtonColumn;

/* ---- words and times ------------------------------------------------------------ */

/**
 * prd_admin_word:
 * @value: a word the hub sends: a state, a mode, a presence status, a
 *   transport, a role, an integration's status
 *
 * Returns: (transfer none): @value for people, translated; @value itself
 *   when it is not one of them
 */
const char *
prd_admin_word (const char *value)
{
  static const struct
  {
    const char *value;
    const char *text;
  } words[] = {
    { "queued", N_ ("Queued") },       { "streaming", N_ ("Running") },
    { "complete", N_ ("Complete") },   { "failed", N_ ("Failed") },
    { "cancelled", N_ ("Cancelled") }, { "edit", N_ ("Edit") },
    { "view", N_ ("View") },           { "viewing", N_ ("Viewing") },
    { "editing", N_ ("Editing") },     { "ai-prompting", N_ ("Asking the AI") },
    { "websocket", N_ ("WebSocket") }, { "polling", N_ ("Long-polling") },
    { "viewer", N_ ("Viewer") },       { "editor", N_ ("Editor") },
    { "admin", N_ ("Admin") },         { "connected", N_ ("Connected") },
    { "error", N_ ("Error") },         { "disconnected", N_ ("Disconnected") },
  };

  for (guint i = 0; i < G_N_ELEMENTS (words); i++)
    if (g_strcmp0 (value, words[i].value) == 0)
      return _ (words[i].text);
  return value;
}

/**
 * prd_admin_time_to_string:
 * @usec: µs since the epoch, 0 for none
 *
 * Returns: (transfer full): the local time, with the day when it is not
 *   today; "" for 0
 */
char *
prd_admin_time_to_string (gint64 usec)
{
  g_autoptr (GDateTime) time = NULL;
  g_autoptr (GDateTime) now = g_date_time_new_now_local ();

  if (usec <= 0)
    return g_strdup ("");
  time = g_date_time_new_from_unix_local (usec / G_USEC_PER_SEC);
  if (g_date_time_get_year (time) == g_date_time_get_year (now) &&
      g_date_time_get_day_of_year (time) == g_date_time_get_day_of_year (now))
    return g_date_time_format (time, "%X");
  return g_date_time_format (time, "%x %X");
}

/**
 * prd_admin_duration_to_string:
 * @ms: a duration in milliseconds
 *
 * Returns: (transfer full): e.g. "850 ms", "12.4 s", "3 min 05 s", "2 h 05 min"
 */
char *
prd_admin_duration_to_string (gint64 ms)
{
  gint64 seconds = ms / 1000;

  if (ms < 1000)
    /* Translators: a duration in milliseconds */
    return g_strdup_printf (_ ("%d ms"), (int) MAX (ms, 0));
  if (seconds < 60)
    /* Translators: a duration in seconds, with one decimal */
    return g_strdup_printf (_ ("%.1f s"), (double) ms / 1000.0);
  if (seconds < 3600)
    /* Translators: a duration in minutes and seconds */
    return g_strdup_printf (_ ("%d min %02d s"), (int) (seconds / 60), (int) (seconds % 60));
  if (seconds < 86400)
    /* Translators: a duration in hours and minutes */
    return g_strdup_printf (_ ("%d h %02d min"), (int) (seconds / 3600),
                            (int) (seconds % 3600 / 60));
  /* Translators: a duration in days and hours */
  return g_strdup_printf (_ ("%d d %d h"), (int) (seconds / 86400), (int) (seconds % 86400 / 3600));
}

char *
prd_admin_format_string (PrdAdminRecord *record, const char *key)
{
  return g_strdup (prd_admin_record_get_string (record, key));
}

char *
prd_admin_format_number (PrdAdminRecord *record, const char *key)
{
  return g_strdup_printf ("%" G_GINT64_FORMAT, prd_admin_record_get_int (record, key));
}

char *
prd_admin_format_clock (PrdAdminRecord *record, const char *key)
{
  return prd_admin_time_to_string (prd_admin_record_get_int (record, key));
}

char *
prd_admin_format_word (PrdAdminRecord *record, const char *key)
{
  return g_strdup (prd_admin_word (prd_admin_record_get_string (record, key)));
}

/* ---- columns -------------------------------------------------------------------- */

/* The text of a cut-off cell, asked for only when the pointer rests on it:
 * setting a tooltip's text makes GTK query the pointer (a synchronous round
 * trip to the X server), far too much for each bind. */
static gboolean
on_query_tooltip (
    GtkWidget *label, int x, int y, gboolean keyboard, GtkTooltip *tooltip, gpointer user_data)
{
  if (!pango_layout_is_ellipsized (gtk_label_get_layout (GTK_LABEL (label))))
    return FALSE;
  gtk_tooltip_set_text (tooltip, gtk_label_get_text (GTK_LABEL (label)));
  return TRUE;
}

static void
on_text_setup (GtkSignalListItemFactory *factory, GtkListItem *item, gpointer user_data)
{
  GtkWidget *label = gtk_label_new (NULL);

  gtk_label_set_xalign (GTK_LABEL (label), 0.0f);
  gtk_label_set_ellipsize (GTK_LABEL (label), PANGO_ELLIPSIZE_END);
  gtk_widget_set_has_tooltip (label, TRUE);
  g_signal_connect (label, "query-tooltip", G_CALLBACK (on_query_tooltip), NULL);
  gtk_list_item_set_child (item, label);
}

/* Shows @item's record; touches the label only where it differs. */
static void
update_text (const TextColumn *column, GtkListItem *item)
{
  PrdAdminRecord *record = gtk_list_item_get_item (item);
  GtkLabel *label = GTK_LABEL (gtk_list_item_get_child (item));
  g_autofree char *text = column->format (record, column->key);

  /* An empty cell says so (a screen reader would read "GtkLabel"). */
  if (*text == '\0')
    {
      g_free (text);
      text = g_strdup (PRD_ADMIN_EMPTY_CELL);
    }
  if (g_strcmp0 (gtk_label_get_text (label), text) != 0)
    gtk_label_set_text (label, text);
  if (g_str_equal (column->key, "state"))
    {
      g_autofree char *css =
          g_strconcat ("state-", prd_admin_record_get_string (record, "state"), NULL);
      const char *classes[] = { "state", css, NULL };

      if (!gtk_widget_has_css_class (GTK_WIDGET (label), css))
        gtk_widget_set_css_classes (GTK_WIDGET (label), classes);
    }
}

/* A row changed in place (prd_admin_store_merge): its cells follow. */
static void
on_record_notify (PrdAdminRecord *record, GParamSpec *pspec, GtkListItem *item)
{
  update_text (g_object_get_data (G_OBJECT (item), "prd-admin-column"), item);
}

static void
on_text_bind (GtkSignalListItemFactory *factory, GtkListItem *item, gpointer user_data)
{
  TextColumn *column = user_data;

  g_object_set_data (G_OBJECT (item), "prd-admin-column", column);
  g_signal_connect_object (gtk_list_item_get_item (item), "notify::dict",
                           G_CALLBACK (on_record_notify), item, 0);
  g_hash_table_add (column->bound, item);
  update_text (column, item);
}

static void
on_text_unbind (GtkSignalListItemFactory *factory, GtkListItem *item, gpointer user_data)
{
  TextColumn *column = user_data;

  g_signal_handlers_disconnect_by_func (gtk_list_item_get_item (item), on_record_notify, item);
  g_hash_table_remove (column->bound, item);
}

static void
on_text_teardown (GtkSignalListItemFactory *factory, GtkListItem *item, gpointer user_data)
{
  TextColumn *column = user_data;

  g_hash_table_remove (column->bound, item);
}

static int
compare_records (gconstpointer a, gconstpointer b, gpointer user_data)
{
  const char *key = user_data;
  PrdAdminRecord *record_a = (PrdAdminRecord *) a;
  PrdAdminRecord *record_b = (PrdAdminRecord *) b;

  return g_utf8_collate (prd_admin_record_get_string (record_a, key),
                         prd_admin_record_get_string (record_b, key));
}

static int
compare_numbers (gconstpointer a, gconstpointer b, gpointer user_data)
{
  const char *key = user_data;
  gint64 value_a = prd_admin_record_get_int ((PrdAdminRecord *) a, key);
  gint64 value_b = prd_admin_record_get_int ((PrdAdminRecord *) b, key);

  return (value_a > value_b) - (value_a < value_b);
}

/**
 * prd_admin_column_set_text:
 * @key: (not nullable): a static string, the record key to show and sort by
 *
 * Makes @column show @format's text for each row and sort by @key.
 */
void
prd_admin_column_set_text (GtkColumnViewColumn *column,
                           const char *key,
                           PrdAdminFormatFunc format,
                           PrdAdminSort sort)
{
  GtkListItemFactory *factory = gtk_signal_list_item_factory_new ();
  g_autoptr (GtkSorter) sorter = NULL;
  TextColumn *data = g_new0 (TextColumn, 1);

  data->key = key;
  data->format = format;
  data->bound = g_hash_table_new (NULL, NULL);
  g_signal_connect (factory, "setup", G_CALLBACK (on_text_setup), NULL);
  g_signal_connect (factory, "bind", G_CALLBACK (on_text_bind), data);
  g_signal_connect (factory, "unbind", G_CALLBACK (on_text_unbind), data);
  g_signal_connect (factory, "teardown", G_CALLBACK (on_text_teardown), data);
  g_object_set_data_full (G_OBJECT (factory), "prd-admin-column", data,
                          (GDestroyNotify) text_column_free);
  gtk_column_view_column_set_factory (column, factory);
  g_object_unref (factory);
  sorter = GTK_SORTER (gtk_custom_sorter_new (
      sort == PRD_ADMIN_SORT_NUMBER ? compare_numbers : compare_records, (gpointer) key, NULL));
  gtk_column_view_column_set_sorter (column, sorter);
}

/**
 * prd_admin_column_refresh:
 * @column: a column made by prd_admin_column_set_text()
 *
 * Formats again the cells @column shows now (not the whole list) and
 * changes those whose text differs: for text that changes with time while
 * the record does not, such as a running job's duration.
 */
void
prd_admin_column_refresh (GtkColumnViewColumn *column)
{
  GtkListItemFactory *factory = gtk_column_view_column_get_factory (column);
  TextColumn *data = g_object_get_data (G_OBJECT (factory), "prd-admin-column");
  GHashTableIter iter;
  gpointer item;

  g_return_if_fail (data != NULL);

  g_hash_table_iter_init (&iter, data->bound);
  while (g_hash_table_iter_next (&iter, &item, NULL))
    update_text (data, item);
}

static void
on_button_setup (GtkSignalListItemFactory *factory, GtkListItem *item, gpointer user_data)
{
  const ButtonColumn *column = user_data;
  GtkWidget *button = gtk_button_new_from_icon_name (column->icon_name);

  gtk_widget_set_tooltip_text (button, column->tooltip);
  gtk_accessible_update_property (GTK_ACCESSIBLE (button), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  column->tooltip, -1);
  gtk_widget_add_css_class (button, "flat");
  gtk_widget_set_halign (button, GTK_ALIGN_CENTER);
  gtk_list_item_set_child (item, button);
}

static void
on_button_bind (GtkSignalListItemFactory *factory, GtkListItem *item, gpointer user_data)
{
  const ButtonColumn *column = user_data;
  PrdAdminRecord *record = gtk_list_item_get_item (item);
  GtkWidget *button = gtk_list_item_get_child (item);
  const char *id = prd_admin_record_get_string (record, column->id_key);
  gboolean visible = TRUE;

  /* The target first: an action name without it would not match the action's type. */
  gtk_actionable_set_action_target_value (GTK_ACTIONABLE (button), g_variant_new_string (id));
  gtk_actionable_set_action_name (GTK_ACTIONABLE (button), column->action_name);
  if (column->label != NULL)
    {
      /* Each row's button names its row: "Disconnect Alice (org_1)…". */
      g_autofree char *label = column->label (record, column->id_key);

      gtk_accessible_update_property (GTK_ACCESSIBLE (button), GTK_ACCESSIBLE_PROPERTY_LABEL, label,
                                      -1);
    }
  if (column->sensitive_key != NULL)
    visible = g_strv_contains (column->sensitive_values,
                               prd_admin_record_get_string (record, column->sensitive_key));
  gtk_widget_set_visible (button, visible);
}

/**
 * prd_admin_column_set_button:
 * @action_name: an action taking the row's @id_key as a string
 * @sensitive_key: (nullable): the button shows only when this key's value
 *   is one of @sensitive_values
 * @label: (nullable): the accessible name of a row's button (given the
 *   record and @id_key); @tooltip when %NULL
 *
 * Makes @column show an icon button per row that activates @action_name.
 */
void
prd_admin_column_set_button (GtkColumnViewColumn *column,
                             const char *icon_name,
                             const char *tooltip,
                             const char *action_name,
                             const char *id_key,
                             const char *sensitive_key,
                             const char *const *sensitive_values,
                             PrdAdminFormatFunc label)
{
  GtkListItemFactory *factory = gtk_signal_list_item_factory_new ();
  ButtonColumn *data = g_new0 (ButtonColumn, 1);

  data->label = label;
  data->icon_name = icon_name;
  data->tooltip = tooltip;
  data->action_name = action_name;
  data->id_key = id_key;
  data->sensitive_key = sensitive_key;
  data->sensitive_values = sensitive_values;
  g_signal_connect (factory, "setup", G_CALLBACK (on_button_setup), data);
  g_signal_connect (factory, "bind", G_CALLBACK (on_button_bind), data);
  g_object_set_data_full (G_OBJECT (factory), "prd-admin-column", data, g_free);
  gtk_column_view_column_set_factory (column, factory);
  g_object_unref (factory);
}

/* ---- the rest ------------------------------------------------------------------------ */

/**
 * prd_admin_confirm_dialog_new:
 * @widget: a widget inside the window the dialog belongs to
 * @keep: the response that changes nothing (default, and Escape)
 * @act: the destructive response
 *
 * The confirmation every destructive action of the app asks for; connect to
 * its "response" signal and present it.
 *
 * Returns: (transfer floating): the dialog
 */
AdwMessageDialog *
prd_admin_confirm_dialog_new (GtkWidget *widget,
                              const char *heading,
                              const char *body,
                              const char *keep,
                              const char *keep_label,
                              const char *act,
                              const char *act_label)
{
  AdwMessageDialog *dialog = ADW_MESSAGE_DIALOG (
      adw_message_dialog_new (GTK_WINDOW (gtk_widget_get_root (widget)), heading, body));

  adw_message_dialog_add_responses (dialog, keep, keep_label, act, act_label, NULL);
  adw_message_dialog_set_response_appearance (dialog, act, ADW_RESPONSE_DESTRUCTIVE);
  adw_message_dialog_set_default_response (dialog, keep);
  adw_message_dialog_set_close_response (dialog, keep);
  return dialog;
}

/**
 * prd_admin_shorten:
 * @text: (nullable): text from the hub, such as a person's name
 *
 * Returns: (transfer full): @text cut to %PRD_ADMIN_SHORT_CHARS characters
 *   and "…", for dialogs and toasts (a 256-byte name made a dialog taller
 *   than the screen)
 */
char *
prd_admin_shorten (const char *text)
{
  g_autofree char *start = NULL;

  if (text == NULL)
    return g_strdup ("");
  if (g_utf8_strlen (text, -1) <= PRD_ADMIN_SHORT_CHARS)
    return g_strdup (text);
  start = g_utf8_substring (text, 0, PRD_ADMIN_SHORT_CHARS);
  return g_strconcat (start, "…", NULL);
}

/**
 * prd_admin_show_toast:
 * @widget: a widget inside the window's #AdwToastOverlay
 * @title: plain text, not markup: it may hold what the hub sends (names,
 *   organization ids, error messages), and is shown as it is
 */
void
prd_admin_show_toast (GtkWidget *widget, const char *title)
{
  GtkWidget *overlay = gtk_widget_get_ancestor (widget, ADW_TYPE_TOAST_OVERLAY);
  g_autofree char *escaped = NULL;
  AdwToast *toast;

  if (overlay == NULL)
    {
      g_message ("%s", title);
      return;
    }
  /* An AdwToast's title is always Pango markup in libadwaita 1.2. */
  escaped = g_markup_escape_text (title, -1);
  toast = adw_toast_new (escaped);
  adw_toast_set_timeout (toast, 4);
  adw_toast_overlay_add_toast (ADW_TOAST_OVERLAY (overlay), toast);
}

/**
 * prd_admin_record_matches:
 * @keys: (array zero-terminated=1): the keys to look in
 * @needle: (nullable): casefolded text; %NULL or "" matches everything
 */
gboolean
prd_admin_record_matches (PrdAdminRecord *record, const char *const *keys, const char *needle)
{
  if (needle == NULL || *needle == '\0')
    return TRUE;
  for (guint i = 0; keys[i] != NULL; i++)
    {
      const char *value = prd_admin_record_get_string (record, keys[i]);
      g_autofree char *folded = g_utf8_casefold (value, -1);
      g_autofree char *word_folded = g_utf8_casefold (prd_admin_word (value), -1);

      if (strstr (folded, needle) != NULL || strstr (word_folded, needle) != NULL)
        return TRUE;
    }
  return FALSE;
}

/**
 * prd_admin_store_replace:
 * @dicts: aa{sv}, the hub's listing
 *
 * Replaces every row of @store at once (one items-changed).
 */
void
prd_admin_store_replace (GListStore *store, GVariant *dicts)
{
  g_autoptr (GPtrArray) records = g_ptr_array_new_with_free_func (g_object_unref);

  for (gsize i = 0; i < g_variant_n_children (dicts); i++)
    {
      g_autoptr (GVariant) dict = g_variant_get_child_value (dicts, i);

      g_ptr_array_add (records, prd_admin_record_new (dict));
    }
  g_list_store_splice (store, 0, g_list_model_get_n_items (G_LIST_MODEL (store)), records->pdata,
                       records->len);
}

/**
 * prd_admin_rows_new:
 *
 * Returns: (transfer full) (element-type utf8 PrdAdminRecord): an empty
 *   index of a list store's records by "id", for prd_admin_store_merge()
 */
GHashTable *
prd_admin_rows_new (void)
{
  return g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_object_unref);
}

/* Whether @a and @b differ in one of @keys (in anything when @keys is NULL). */
static gboolean
dicts_differ (GVariant *a, GVariant *b, const char *const *keys)
{
  if (keys == NULL)
    return !g_variant_equal (a, b);
  for (guint i = 0; keys[i] != NULL; i++)
    {
      g_autoptr (GVariant) value_a = g_variant_lookup_value (a, keys[i], NULL);
      g_autoptr (GVariant) value_b = g_variant_lookup_value (b, keys[i], NULL);

      if ((value_a == NULL) != (value_b == NULL) ||
          (value_a != NULL && !g_variant_equal (value_a, value_b)))
        return TRUE;
    }
  return FALSE;
}

/* Removes the records of @store whose id @listed lacks, a run of
 * neighbours at a time. */
static void
remove_unlisted (GListStore *store, GHashTable *rows, GHashTable *listed)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (store));
  guint run_end = n; /* the rows [i, run_end) go */

  for (guint i = n; i > 0; i--)
    {
      g_autoptr (PrdAdminRecord) record = g_list_model_get_item (G_LIST_MODEL (store), i - 1);
      const char *id = prd_admin_record_get_string (record, "id");

      if (!g_hash_table_contains (listed, id))
        {
          g_hash_table_remove (rows, id);
          continue;
        }
      if (run_end > i)
        g_list_store_splice (store, i, run_end - i, NULL, 0);
      run_end = i - 1;
    }
  if (run_end > 0)
    g_list_store_splice (store, 0, run_end, NULL, 0);
}

/**
 * prd_admin_store_merge:
 * @store: (element-type PrdAdminRecord)
 * @rows: (element-type utf8 PrdAdminRecord): @store's records by "id"
 *   (prd_admin_rows_new()), kept in step with @store
 * @dicts: (element-type GVariant): rows as the hub sends them (a{sv}), in
 *   the order they came; a later one of the same id wins
 * @keys: (array zero-terminated=1) (nullable): the keys the views sort or
 *   filter by; %NULL for all
 * @full: whether @dicts is a full listing: the rows it lacks go
 *
 * Changes only what differs. A known row keeps its #PrdAdminRecord, which
 * takes the new dictionary (its cells follow its notify), and is announced
 * as changed (items-changed of one row, so that the sort and the filter
 * place it again) only when one of @keys changed, right as it changes: a
 * GtkSortListModel places an announced row by a binary search, which needs
 * every other row still where its keys put it (several records changed
 * first and announced after were left out of order). New rows are appended
 * with one items-changed.
 */
void
prd_admin_store_merge (
    GListStore *store, GHashTable *rows, GPtrArray *dicts, const char *const *keys, gboolean full)
{
  g_autoptr (GPtrArray) added = g_ptr_array_new_with_free_func (g_object_unref);

  if (full)
    {
      g_autoptr (GHashTable) listed = g_hash_table_new (g_str_hash, g_str_equal);

      for (guint i = 0; i < dicts->len; i++)
        {
          const char *id = NULL;

          if (g_variant_lookup (dicts->pdata[i], "id", "&s", &id))
            g_hash_table_add (listed, (gpointer) id);
        }
      remove_unlisted (store, rows, listed);
    }

  for (guint i = 0; i < dicts->len; i++)
    {
      GVariant *dict = dicts->pdata[i];
      const char *id = NULL;
      PrdAdminRecord *known;
      g_autoptr (GVariant) old = NULL;
      guint position;

      if (!g_variant_lookup (dict, "id", "&s", &id))
        continue;
      known = g_hash_table_lookup (rows, id);
      if (known == NULL)
        {
          PrdAdminRecord *fresh = prd_admin_record_new (dict);

          g_hash_table_insert (rows, g_strdup (id), g_object_ref (fresh));
          g_ptr_array_add (added, fresh);
          continue;
        }
      old = g_variant_ref (prd_admin_record_get_dict (known));
      prd_admin_record_set_dict (known, dict);
      /* Not in the store yet when it is one of @added. */
      if (dicts_differ (old, dict, keys) && g_list_store_find (store, known, &position))
        g_list_model_items_changed (G_LIST_MODEL (store), position, 1, 1);
    }
  if (added->len > 0)
    g_list_store_splice (store, g_list_model_get_n_items (G_LIST_MODEL (store)), 0, added->pdata,
                         added->len);
}

/**
 * prd_admin_store_forget:
 * @rows: @store's index (prd_admin_rows_new())
 *
 * Removes the row whose "id" is @id, if there is one.
 */
void
prd_admin_store_forget (GListStore *store, GHashTable *rows, const char *id)
{
  PrdAdminRecord *record = g_hash_table_lookup (rows, id);
  guint position;

  if (record == NULL)
    return;
  if (g_list_store_find (store, record, &position))
    g_list_store_remove (store, position);
  g_hash_table_remove (rows, id);
}
