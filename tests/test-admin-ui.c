/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The admin app against a real hub, under Xvfb: a `prdhub serve` process on
 * a private session bus (GTestDBus) with the scripted AI test server, real
 * Socket.IO clients (WebSocket, /prds), and the app's window in this
 * process. Each page must show the real rows and follow live changes; a
 * disconnect and a cancel go through the same actions and confirmation
 * dialogs as the buttons, and the clients see them; the no-hub page
 * appears when the hub stops. A screenshot of each page is written to
 * <build>/tests/screenshots/.
 *
 * Run with GSK_RENDERER=cairo, GSETTINGS_BACKEND=memory, GTK_A11Y=test and
 * ADW_DISABLE_PORTAL=1 (tests/meson.build sets them).
 */
#include "config.h"

#include <signal.h>
#include <string.h>

#include <glib/gstdio.h>
#include <gtk/gtk.h>
#include <adwaita.h>

#include "ai-test-server.h"
#include "prd-admin-application.h"
#include "prd-admin-chart.h"
#include "prd-admin-columns.h"
#include "prd-admin-record.h"
#include "prd-admin-window.h"
#include "prd-error.h"
#include "prd-hub-dbus.h"

#include "test-hub-process.h"
#include "prd-test-harness.h"

#define SECRET "admin-ui-test-secret-0123456789abcdef"

static struct
{
  char *tmp_dir;
  char *shots_dir;
  AiTestServer *ai;
  HubProcess *hub;
  PrdAuth *auth;
  PrdAdminApplication *app;
  PrdAdminWindow *window;
  char *prd_id;
  PrdTestClient *alice; /* editor of org_a, joined in edit mode */
  PrdTestClient *bob;   /* viewer of org_b, joined to another PRD in view mode */
  PrdTestClient *carol; /* editor of org_a, not joined */
} t;

/* ---- helpers -------------------------------------------------------------------------- */

static char *
create_prd (const char *token, const char *title)
{
  g_autoptr (SoupSession) session = soup_session_new ();
  g_autofree char *url = g_strconcat (t.hub->url, "api/prds", NULL);
  g_autofree char *auth = g_strconcat ("Bearer ", token, NULL);
  g_autofree char *body =
      g_strdup_printf ("{\"title\":\"%s\",\"content\":\"# %s\\n\"}", title, title);
  g_autoptr (SoupMessage) msg = soup_message_new ("POST", url);
  g_autoptr (GBytes) request_body = g_bytes_new (body, strlen (body));
  g_autoptr (GBytes) reply = NULL;
  g_autoptr (JsonNode) node = NULL;
  g_autoptr (GError) error = NULL;

  soup_message_headers_append (soup_message_get_request_headers (msg), "Authorization", auth);
  soup_message_set_request_body_from_bytes (msg, "application/json", request_body);
  reply = soup_session_send_and_read (session, msg, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (soup_message_get_status (msg), ==, 201);
  node = json_from_string (g_bytes_get_data (reply, NULL), &error);
  g_assert_no_error (error);
  return g_strdup (json_object_get_string_member (json_node_get_object (node), "id"));
}

static void
join (PrdTestClient *client, const char *prd_id, const char *mode)
{
  g_autofree char *payload = g_strdup_printf ("{\"prdId\":\"%s\",\"mode\":\"%s\"}", prd_id, mode);
  g_autoptr (JsonNode) ack = prd_test_client_request (client, "join-prd", payload);

  prd_test_assert_ok (ack);
}

static char *
prompt (const char *scenario)
{
  g_autofree char *payload =
      g_strdup_printf ("{\"prdId\":\"%s\",\"prompt\":\"scenario:%s go\"}", t.prd_id, scenario);
  g_autoptr (JsonNode) ack = prd_test_client_request (t.alice, "ai-prompt", payload);

  prd_test_assert_ok (ack);
  return g_strdup (json_object_get_string_member (json_node_get_object (ack), "jobId"));
}

/* The record of @model whose @key is @value, or NULL. */
static PrdAdminRecord *
find_record (GListModel *model, const char *key, const char *value)
{
  for (guint i = 0; i < g_list_model_get_n_items (model); i++)
    {
      g_autoptr (PrdAdminRecord) record = g_list_model_get_item (model, i);

      if (g_str_equal (prd_admin_record_get_string (record, key), value))
        return g_steal_pointer (&record);
    }
  return NULL;
}

/* The visible child name of the first GtkStack below @widget. */
static const char *
inner_stack_page (GtkWidget *widget)
{
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      const char *name;

      if (GTK_IS_STACK (child))
        return gtk_stack_get_visible_child_name (GTK_STACK (child));
      if ((name = inner_stack_page (child)) != NULL)
        return name;
    }
  return NULL;
}

/* Whether a label below @widget shows exactly @text (what a person sees). */
static gboolean
shows_label (GtkWidget *widget, const char *text)
{
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      if (GTK_IS_LABEL (child) && gtk_widget_get_mapped (child) &&
          g_strcmp0 (gtk_label_get_text (GTK_LABEL (child)), text) == 0)
        return TRUE;
      if (shows_label (child, text))
        return TRUE;
    }
  return FALSE;
}

/* Whether a label below @widget shows text that holds @text. */
static gboolean
shows_label_containing (GtkWidget *widget, const char *text)
{
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      if (GTK_IS_LABEL (child) && gtk_widget_get_mapped (child) &&
          strstr (gtk_label_get_text (GTK_LABEL (child)), text) != NULL)
        return TRUE;
      if (shows_label_containing (child, text))
        return TRUE;
    }
  return FALSE;
}

/* The first AdwPreferencesRow below @widget whose title is @title, or NULL. */
static AdwPreferencesRow *
find_row (GtkWidget *widget, const char *title)
{
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      AdwPreferencesRow *found;

      if (ADW_IS_PREFERENCES_ROW (child) &&
          g_strcmp0 (adw_preferences_row_get_title (ADW_PREFERENCES_ROW (child)), title) == 0)
        return ADW_PREFERENCES_ROW (child);
      if ((found = find_row (child, title)) != NULL)
        return found;
    }
  return NULL;
}

static AdwMessageDialog *
find_dialog (void)
{
  GListModel *toplevels = gtk_window_get_toplevels (); /* (transfer none) */

  for (guint i = 0; i < g_list_model_get_n_items (toplevels); i++)
    {
      g_autoptr (GtkWindow) window = g_list_model_get_item (toplevels, i);

      if (ADW_IS_MESSAGE_DIALOG (window) && gtk_widget_get_visible (GTK_WIDGET (window)))
        return ADW_MESSAGE_DIALOG (window);
    }
  return NULL;
}

static GtkWidget *
find_button (GtkWidget *widget, const char *label)
{
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found;

      if (GTK_IS_BUTTON (child) &&
          g_strcmp0 (gtk_button_get_label (GTK_BUTTON (child)), label) == 0)
        return child;
      if ((found = find_button (child, label)) != NULL)
        return found;
    }
  return NULL;
}

/* The button below @widget whose action target is the string @id. */
static GtkWidget *
find_target_button (GtkWidget *widget, const char *id)
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
      if ((found = find_target_button (child, id)) != NULL)
        return found;
    }
  return NULL;
}

static gboolean
no_dialog_cond (gpointer data)
{
  return find_dialog () == NULL;
}

/* Clicks the dialog's button labelled @label, as a person would. */
static void
click_response (AdwMessageDialog *dialog, const char *label)
{
  GtkWidget *button = find_button (GTK_WIDGET (dialog), label);

  g_assert_nonnull (button);
  g_assert_true (gtk_widget_activate (button));
}

static gboolean
dialog_cond (gpointer data)
{
  return find_dialog () != NULL;
}

/* Clicks the close button of every toast shown in the window. */
static guint
dismiss_toasts (GtkWidget *widget)
{
  guint n = 0;

  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;)
    {
      GtkWidget *next = gtk_widget_get_next_sibling (child);

      /* The toast's close button: an "×" inside the toast's own widget. */
      if (GTK_IS_BUTTON (child) &&
          g_strcmp0 (gtk_button_get_icon_name (GTK_BUTTON (child)), "window-close-symbolic") == 0 &&
          g_str_equal (G_OBJECT_TYPE_NAME (widget), "AdwToastWidget"))
        {
          gtk_widget_activate (child);
          n++;
        }
      else
        n += dismiss_toasts (child);
      child = next;
    }
  return n;
}

/* Renders @widget (a window) to <build>/tests/screenshots/@name.png. */
static void
save_screenshot (GtkWidget *widget, const char *name)
{
  g_autoptr (GdkPaintable) paintable = NULL;
  g_autoptr (GskRenderNode) node = NULL;
  g_autoptr (GdkTexture) texture = NULL;
  g_autofree char *file = g_strconcat (name, ".png", NULL);
  g_autofree char *path = g_build_filename (t.shots_dir, file, NULL);
  int width = 0, height = 0;

  /* A widget can snapshot to nothing although it is mapped and sized
   * (seen under AddressSanitizer, for the window right after the markup
   * test's toast appeared; the next try drew it): wait for another frame
   * and ask again. */
  for (guint tries = 0; node == NULL && tries < 20; tries++)
    {
      GtkSnapshot *snapshot;

      g_clear_object (&paintable);
      gtk_test_widget_wait_for_draw (widget);
      run_for (tries == 0 ? 300 : 100);
      gtk_test_widget_wait_for_draw (widget);
      width = gtk_widget_get_width (widget);
      height = gtk_widget_get_height (widget);
      paintable = gtk_widget_paintable_new (widget);
      snapshot = gtk_snapshot_new ();
      gdk_paintable_snapshot (paintable, snapshot, width, height);
      node = gtk_snapshot_free_to_node (snapshot);
      if (node == NULL)
        g_test_message ("screenshot %s: nothing drawn yet (%dx%d, try %u)", name, width, height,
                        tries + 1);
    }
  g_assert_nonnull (node);
  texture = gsk_renderer_render_texture (gtk_native_get_renderer (GTK_NATIVE (widget)), node,
                                         &GRAPHENE_RECT_INIT (0, 0, width, height));
  g_assert_true (gdk_texture_save_to_png (texture, path));
  g_test_message ("screenshot: %s (%dx%d)", path, width, height);
}

/* ---- a fake hub ----------------------------------------------------------------------- */

/* A process that owns org.prdtool.Hub on the test's bus, as another user's
 * hub or a stranger would: its own bus connection, answering in the
 * connection's worker thread (a filter), so that the window's calls never
 * wait on this thread. */
typedef enum
{
  FAKE_FORBIDDEN,    /* refuses every call: another user's hub */
  FAKE_NO_INTERFACE, /* owns the name, serves nothing */
  FAKE_LIST_ERROR,   /* has properties, every listing fails */
  FAKE_CHURN,        /* SessionsChanged every 10 ms, ListSessions takes 40 ms */
} FakeMode;

#define FAKE_CHURN_SIGNALS 100

typedef struct
{
  FakeMode mode;
  GDBusConnection *connection;
  guint filter;
  GAsyncQueue *calls;  /* (element-type GDBusMessage): ListSessions to answer (churn) */
  int n_list_sessions; /* atomic */
  int n_signals;       /* atomic */
  int stop;            /* atomic */
  GThread *thread;
} FakeHub;

static void
fake_reply_error (FakeHub *fake, GDBusMessage *call, const char *name, const char *message)
{
  g_autoptr (GDBusMessage) reply = g_dbus_message_new_method_error_literal (call, name, message);

  g_dbus_connection_send_message (fake->connection, reply, G_DBUS_SEND_MESSAGE_FLAGS_NONE, NULL,
                                  NULL);
}

static void
fake_reply (FakeHub *fake, GDBusMessage *call, GVariant *body)
{
  g_autoptr (GDBusMessage) reply = g_dbus_message_new_method_reply (call);

  g_dbus_message_set_body (reply, body);
  g_dbus_connection_send_message (fake->connection, reply, G_DBUS_SEND_MESSAGE_FLAGS_NONE, NULL,
                                  NULL);
}

static GDBusMessage *
fake_filter (GDBusConnection *connection, GDBusMessage *message, gboolean incoming, gpointer data)
{
  FakeHub *fake = data;
  const char *member = g_dbus_message_get_member (message);

  if (!incoming || g_dbus_message_get_message_type (message) != G_DBUS_MESSAGE_TYPE_METHOD_CALL ||
      g_strcmp0 (g_dbus_message_get_path (message), "/org/prdtool/Hub") != 0)
    return message;
  switch (fake->mode)
    {
      case FAKE_FORBIDDEN:
        fake_reply_error (fake, message, "org.prdtool.Hub1.Error.Forbidden",
                          "Only the user who runs the hub is served");
        break;
      case FAKE_NO_INTERFACE:
        return message; /* GDBus answers: no such object */
      case FAKE_LIST_ERROR:
      case FAKE_CHURN:
        if (g_strcmp0 (member, "GetAll") == 0)
          {
            GVariantBuilder builder;

            g_variant_builder_init (&builder, G_VARIANT_TYPE ("a{sv}"));
            g_variant_builder_add (&builder, "{sv}", "Version", g_variant_new_string ("fake"));
            g_variant_builder_add (&builder, "{sv}", "ListenUri",
                                   g_variant_new_string ("http://127.0.0.1:9/"));
            fake_reply (fake, message, g_variant_new ("(a{sv})", &builder));
          }
        else if (fake->mode == FAKE_CHURN && g_strcmp0 (member, "ListSessions") == 0)
          {
            g_atomic_int_inc (&fake->n_list_sessions);
            g_object_set_data (G_OBJECT (message), "received",
                               GINT_TO_POINTER ((int) (g_get_monotonic_time () / 1000)));
            g_async_queue_push (fake->calls, g_object_ref (message));
          }
        else if (fake->mode == FAKE_CHURN)
          fake_reply (fake, message, g_variant_new_parsed ("(@aa{sv} [],)"));
        else
          fake_reply_error (fake, message, "org.freedesktop.DBus.Error.Failed",
                            "The fake hub lists nothing");
        break;
      default:
        g_assert_not_reached ();
    }
  g_object_unref (message);
  return NULL;
}

/* Churn: a SessionsChanged every 10 ms, and each ListSessions answered
 * 40 ms after it came (a hub with thousands of sessions). */
static gpointer
fake_churn_thread (gpointer data)
{
  FakeHub *fake = data;
  gint64 next_signal = g_get_monotonic_time ();

  while (!g_atomic_int_get (&fake->stop))
    {
      GDBusMessage *call;

      if (g_atomic_int_get (&fake->n_signals) < FAKE_CHURN_SIGNALS &&
          g_get_monotonic_time () >= next_signal)
        {
          g_dbus_connection_emit_signal (fake->connection, NULL, "/org/prdtool/Hub",
                                         "org.prdtool.Hub1", "SessionsChanged", NULL, NULL);
          g_atomic_int_inc (&fake->n_signals);
          next_signal += 10 * 1000;
        }
      while ((call = g_async_queue_try_pop (fake->calls)) != NULL)
        {
          int received = GPOINTER_TO_INT (g_object_get_data (G_OBJECT (call), "received"));

          while (g_get_monotonic_time () / 1000 < received + 40)
            g_usleep (1000);
          fake_reply (fake, call, g_variant_new_parsed ("(@aa{sv} [],)"));
          g_object_unref (call);
        }
      g_usleep (1000);
    }
  return NULL;
}

static FakeHub *
fake_hub_start (FakeMode mode)
{
  FakeHub *fake = g_new0 (FakeHub, 1);
  g_autoptr (GError) error = NULL;
  g_autofree char *address = g_dbus_address_get_for_bus_sync (G_BUS_TYPE_SESSION, NULL, &error);
  g_autoptr (GVariant) reply = NULL;
  guint32 result = 0;

  g_assert_no_error (error);
  fake->mode = mode;
  fake->calls = g_async_queue_new ();
  fake->connection =
      g_dbus_connection_new_for_address_sync (address,
                                              G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                                  G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                                              NULL, NULL, &error);
  g_assert_no_error (error);
  fake->filter = g_dbus_connection_add_filter (fake->connection, fake_filter, fake, NULL);
  reply = g_dbus_connection_call_sync (
      fake->connection, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
      "RequestName", g_variant_new ("(su)", "org.prdtool.Hub", 4 /* DO_NOT_QUEUE */),
      G_VARIANT_TYPE ("(u)"), G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
  g_assert_no_error (error);
  g_variant_get (reply, "(u)", &result);
  g_assert_cmpuint (result, ==, 1 /* PRIMARY_OWNER */);
  if (mode == FAKE_CHURN)
    fake->thread = g_thread_new ("fake-hub", fake_churn_thread, fake);
  return fake;
}

static void
fake_hub_stop (FakeHub *fake)
{
  GDBusMessage *call;

  g_atomic_int_set (&fake->stop, 1);
  if (fake->thread != NULL)
    g_thread_join (fake->thread);
  g_dbus_connection_close_sync (fake->connection, NULL, NULL);
  g_dbus_connection_remove_filter (fake->connection, fake->filter);
  g_clear_object (&fake->connection);
  while ((call = g_async_queue_try_pop (fake->calls)) != NULL)
    g_object_unref (call);
  g_async_queue_unref (fake->calls);
  g_free (fake);
}

/* ---- conditions ------------------------------------------------------------------------- */

static gboolean
state_page_cond (gpointer data)
{
  return g_strcmp0 (prd_admin_window_get_state_page (t.window), data) == 0;
}

static gboolean
overview_value_cond (gpointer data)
{
  const char *const *want = data; /* name, text */
  PrdAdminOverviewPage *page = prd_admin_window_get_overview_page (t.window);

  return g_strcmp0 (prd_admin_overview_page_get_value (page, want[0]), want[1]) == 0;
}

static gboolean
n_items_cond (gpointer data)
{
  gpointer *want = data; /* model, n */

  return g_list_model_get_n_items (want[0]) == GPOINTER_TO_UINT (want[1]);
}

static gboolean
record_cond (gpointer data)
{
  gpointer *want = data; /* model, key, value, key2, value2 */
  g_autoptr (PrdAdminRecord) record = find_record (want[0], want[1], want[2]);

  return record != NULL && g_str_equal (prd_admin_record_get_string (record, want[3]), want[4]);
}

static gboolean
toast_cond (gpointer data)
{
  return shows_label (GTK_WIDGET (t.window), data);
}

static gboolean
no_toast_cond (gpointer data)
{
  return !shows_label (GTK_WIDGET (t.window), data);
}

static gboolean
label_containing_cond (gpointer data)
{
  return shows_label_containing (GTK_WIDGET (t.window), data);
}

static gboolean
chart_cond (gpointer data)
{
  PrdAdminChart *chart = data;

  return prd_admin_chart_get_n_samples (chart) >= 3 &&
         prd_admin_chart_get_sample (chart, 0, 0) == 3.0;
}

static gboolean
events_chart_cond (gpointer data)
{
  PrdAdminChart *chart = data;

  for (guint age = 0; age < prd_admin_chart_get_n_samples (chart); age++)
    if (prd_admin_chart_get_sample (chart, 0, age) > 0.0 &&
        prd_admin_chart_get_sample (chart, 1, age) > 0.0)
      return TRUE;
  return FALSE;
}

/* ---- the cases ----------------------------------------------------------------------------- */

static void
test_window_size_setting (void)
{
  g_autoptr (GSettings) settings = g_settings_new (PRD_ADMIN_SCHEMA_ID);
  int width = 0, height = 0;

  /* The window takes its size from the settings… */
  gtk_window_get_default_size (GTK_WINDOW (t.window), &width, &height);
  g_assert_cmpint (width, ==, g_settings_get_int (settings, "window-width"));
  g_assert_cmpint (height, ==, g_settings_get_int (settings, "window-height"));
  g_assert_cmpint (width, ==, 1000);
  /* …and keeps a new one there. */
  gtk_window_set_default_size (GTK_WINDOW (t.window), 1024, 720);
  g_assert_cmpint (g_settings_get_int (settings, "window-width"), ==, 1024);
  g_assert_cmpint (g_settings_get_int (settings, "window-height"), ==, 720);
  gtk_window_set_default_size (GTK_WINDOW (t.window), 1000, 700);
  g_assert_cmpint (g_settings_get_int (settings, "window-width"), ==, 1000);
}

static void
test_overview (void)
{
  PrdAdminOverviewPage *page = prd_admin_window_get_overview_page (t.window);
  const char *connections[] = { "connections", "3" };
  const char *users[] = { "users", "2" };
  const char *prds[] = { "prds", "2" };
  const char *address[] = { "address", t.hub->url };

  prd_admin_window_show_page (t.window, "overview");
  wait_until (overview_value_cond, (gpointer) address, "the hub's address");
  g_assert_cmpstr (prd_admin_overview_page_get_value (page, "version"), ==, PACKAGE_VERSION);
  g_assert_cmpstr (prd_admin_overview_page_get_value (page, "uptime"), !=, "");
  wait_until (overview_value_cond, (gpointer) connections, "3 connections");
  wait_until (overview_value_cond, (gpointer) users, "2 people in PRDs");
  wait_until (overview_value_cond, (gpointer) prds, "2 open PRDs");
  g_assert_true (shows_label (GTK_WIDGET (page), t.hub->url));
  /* The hub listens on 127.0.0.1: it is not announced on the LAN. */
  g_assert_cmpstr (prd_admin_overview_page_get_value (page, "lan"), ==,
                   "Not announced: only this computer can reach the hub");
  /* The charts take the values second by second. */
  wait_until (chart_cond, prd_admin_overview_page_get_chart (page, PRD_ADMIN_CHART_CONNECTIONS),
              "3 connections on the chart");
  for (guint i = 0; i < 30; i++)
    {
      soup_websocket_connection_send_text (t.carol->ws, "42/prds,[\"ping\"]");
      run_for (50);
    }
  wait_until (events_chart_cond, prd_admin_overview_page_get_chart (page, PRD_ADMIN_CHART_EVENTS),
              "events in and out on the chart");
  save_screenshot (GTK_WIDGET (t.window), "overview");
}

static void
test_sessions (void)
{
  PrdAdminSessionsPage *page = prd_admin_window_get_sessions_page (t.window);
  GListModel *model = prd_admin_sessions_page_get_model (page);
  g_autoptr (PrdAdminRecord) first = NULL;
  g_autoptr (PrdAdminRecord) bob = NULL;
  g_autoptr (PrdAdminRecord) alice = NULL;
  g_autoptr (JsonNode) closed = NULL;
  g_autofree char *status = NULL;
  g_autofree char *bob_id = NULL;
  gpointer three[] = { model, GUINT_TO_POINTER (3) };
  gpointer two[] = { model, GUINT_TO_POINTER (2) };
  gpointer one[] = { model, GUINT_TO_POINTER (1) };
  gpointer editing[] = { model, "name", "alice", "status", "editing" };
  GtkEditable *search;
  AdwMessageDialog *dialog;

  prd_admin_window_show_page (t.window, "sessions");
  wait_until (n_items_cond, three, "three sessions");
  g_assert_cmpstr (inner_stack_page (GTK_WIDGET (page)), ==, "list");
  /* Sorted by user, ascending. */
  first = g_list_model_get_item (model, 0);
  g_assert_cmpstr (prd_admin_record_get_string (first, "name"), ==, "alice");
  g_assert_cmpstr (prd_admin_record_get_string (first, "mode"), ==, "edit");
  g_assert_cmpstr (prd_admin_record_get_string (first, "prd-id"), ==, t.prd_id);
  bob = find_record (model, "name", "bob");
  g_assert_cmpstr (prd_admin_record_get_string (bob, "mode"), ==, "view");
  g_assert_cmpstr (prd_admin_record_get_string (bob, "organization"), ==, "org_b");
  /* What a person sees in the rows. */
  g_assert_true (shows_label (GTK_WIDGET (page), "alice"));
  g_assert_true (shows_label (GTK_WIDGET (page), "org_b"));
  g_assert_true (shows_label (GTK_WIDGET (page), "WebSocket"));
  /* What a screen reader reads: each row's button names its row, an empty
   * cell (carol is in no PRD) is "—", not "GtkLabel". */
  gtk_test_widget_wait_for_draw (GTK_WIDGET (t.window));
  {
    GtkWidget *button =
        find_target_button (GTK_WIDGET (page), prd_admin_record_get_string (bob, "id"));

    g_assert_nonnull (button);
    gtk_test_accessible_assert_property (GTK_ACCESSIBLE (button), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                         "Disconnect bob (org_b)…");
  }
  g_assert_true (shows_label (GTK_WIDGET (page), "—"));

  /* Live: a presence change shows, in alice's row as it was (the listing
   * changes only the rows that differ). */
  alice = find_record (model, "name", "alice");
  status = g_strdup_printf ("{\"prdId\":\"%s\",\"status\":\"editing\"}", t.prd_id);
  {
    g_autoptr (JsonNode) ack = prd_test_client_request (t.alice, "presence-update", status);

    prd_test_assert_ok (ack);
  }
  wait_until (record_cond, editing, "alice editing");
  {
    g_autoptr (PrdAdminRecord) alice_now = find_record (model, "name", "alice");

    g_assert_true (alice_now == alice);
  }

  /* Filtering. */
  search = GTK_EDITABLE (gtk_widget_get_first_child (
      gtk_widget_get_first_child (GTK_WIDGET (page)))); /* AdwBin > GtkBox > GtkSearchEntry */
  g_assert_true (GTK_IS_SEARCH_ENTRY (search));
  gtk_test_accessible_assert_property (GTK_ACCESSIBLE (search), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                       "Filter sessions");
  gtk_editable_set_text (search, "org_b");
  wait_until (n_items_cond, one, "one session matching org_b");
  gtk_editable_set_text (search, "nobody-at-all");
  wait_until (n_items_cond, (gpointer[]){ model, GUINT_TO_POINTER (0) }, "no match");
  g_assert_cmpstr (inner_stack_page (GTK_WIDGET (page)), ==, "no-match");
  gtk_editable_set_text (search, "");
  wait_until (n_items_cond, three, "three sessions again");
  save_screenshot (GTK_WIDGET (t.window), "sessions");

  /* Disconnecting bob: the button's action, the confirmation, a reason. */
  bob_id = g_strdup (prd_admin_record_get_string (bob, "id"));
  g_assert_true (
      gtk_widget_activate_action (GTK_WIDGET (page), "sessions.disconnect", "s", bob_id));
  wait_until (dialog_cond, NULL, "the confirmation");
  dialog = find_dialog ();
  g_assert_cmpstr (adw_message_dialog_get_heading (dialog), ==, "Disconnect bob?");
  g_assert_cmpint (adw_message_dialog_get_response_appearance (dialog, "disconnect"), ==,
                   ADW_RESPONSE_DESTRUCTIVE);
  g_assert_cmpstr (adw_message_dialog_get_default_response (dialog), ==, "cancel");
  gtk_editable_set_text (GTK_EDITABLE (adw_message_dialog_get_extra_child (dialog)),
                         "Maintenance window");
  save_screenshot (GTK_WIDGET (dialog), "sessions-confirm");
  click_response (dialog, "_Disconnect");
  wait_until (no_dialog_cond, NULL, "the dialog to close");
  closed = prd_test_client_wait_event (t.bob, "session-closed");
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (closed), "message"), ==,
                   "Maintenance window");
  g_free (prd_test_client_take_message (t.bob, "41/prds"));
  wait_until (n_items_cond, two, "two sessions after the disconnect");
  g_assert_null (find_record (model, "name", "bob"));
  /* The outcome first. */
  wait_until (toast_cond, "Disconnected: bob", "the toast");
  /* The focus goes to the row now in bob's place (carol's), not to the
   * top of the window. */
  {
    GtkWidget *focus = gtk_window_get_focus (GTK_WINDOW (t.window));
    g_autoptr (PrdAdminRecord) carol = find_record (model, "name", "carol");

    g_assert_nonnull (focus);
    g_assert_true (
        focus == find_target_button (GTK_WIDGET (page), prd_admin_record_get_string (carol, "id")));
  }
  g_assert_cmpuint (dismiss_toasts (GTK_WIDGET (t.window)), >=, 1);
  wait_until (no_toast_cond, "Disconnected: bob", "the toast to go");
}

static void
test_jobs (void)
{
  PrdAdminJobsPage *page = prd_admin_window_get_jobs_page (t.window);
  GListModel *model = prd_admin_jobs_page_get_model (page);
  g_autofree char *running = NULL;
  g_autofree char *slow = NULL;
  g_autofree char *done = NULL;
  gpointer none[] = { model, GUINT_TO_POINTER (0) };
  gpointer three[] = { model, GUINT_TO_POINTER (3) };
  gpointer done_complete[] = { model, "id", NULL, "state", "complete" };
  gpointer running_streaming[] = { model, "id", NULL, "state", "streaming" };
  gpointer running_cancelled[] = { model, "id", NULL, "state", "cancelled" };
  AdwMessageDialog *dialog;

  prd_admin_window_show_page (t.window, "jobs");
  wait_until (n_items_cond, none, "no job yet");
  g_assert_cmpstr (inner_stack_page (GTK_WIDGET (page)), ==, "empty");

  /* A complete job, a running one and one that streams a bit and stalls. */
  done = prompt ("stream");
  done_complete[2] = done;
  wait_until (record_cond, done_complete, "the complete job");
  running = prompt ("stall");
  running_streaming[2] = running;
  running_cancelled[2] = running;
  slow = prompt ("slow");
  wait_until (n_items_cond, three, "three jobs");
  wait_until (record_cond, running_streaming, "the running job");
  g_assert_cmpstr (inner_stack_page (GTK_WIDGET (page)), ==, "list");
  {
    g_autoptr (PrdAdminRecord) record = find_record (model, "id", done);

    g_assert_cmpint (prd_admin_record_get_int (record, "tokens"), >, 0);
    g_assert_cmpint (prd_admin_record_get_int (record, "duration"), >, 0);
  }
  g_assert_true (shows_label (GTK_WIDGET (page), "Complete"));
  g_assert_true (shows_label (GTK_WIDGET (page), "Running"));
  save_screenshot (GTK_WIDGET (t.window), "jobs");

  /* Cancelling the stalled job: the action, the confirmation. */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (page), "jobs.cancel", "s", running));
  wait_until (dialog_cond, NULL, "the confirmation");
  dialog = find_dialog ();
  g_assert_cmpstr (adw_message_dialog_get_heading (dialog), ==, "Cancel the AI Job?");
  g_assert_cmpstr (adw_message_dialog_get_default_response (dialog), ==, "keep");
  click_response (dialog, "_Cancel Job");
  wait_until (no_dialog_cond, NULL, "the dialog to close");
  for (;;)
    {
      g_autoptr (JsonNode) error = prd_test_client_wait_event (t.alice, "ai-error");
      JsonObject *object = json_node_get_object (error);

      if (g_strcmp0 (json_object_get_string_member_with_default (object, "jobId", ""), running) ==
          0)
        {
          g_assert_cmpstr (json_object_get_string_member (
                               json_object_get_object_member (object, "error"), "code"),
                           ==, "CANCELLED");
          break;
        }
    }
  wait_until (record_cond, running_cancelled, "the cancelled job");
  wait_until (toast_cond, "AI job cancelled", "the toast");
  g_assert_cmpuint (dismiss_toasts (GTK_WIDGET (t.window)), >=, 1);
  wait_until (no_toast_cond, "AI job cancelled", "the toast to go");
}

/* A finished job as AiJobChanged sends it. */
static GVariant *
finished_job (const char *id, gint64 started_at)
{
  GVariantDict dict;

  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "id", "s", id);
  g_variant_dict_insert (&dict, "prd-id", "s", "prd_fake");
  g_variant_dict_insert (&dict, "organization", "s", "org_a");
  g_variant_dict_insert (&dict, "user-id", "s", "alice");
  g_variant_dict_insert (&dict, "state", "s", "complete");
  g_variant_dict_insert (&dict, "tokens", "t", (guint64) 3);
  g_variant_dict_insert (&dict, "chunks", "u", 3);
  g_variant_dict_insert (&dict, "created-at", "x", started_at);
  g_variant_dict_insert (&dict, "started-at", "x", started_at);
  g_variant_dict_insert (&dict, "duration", "t", (guint64) 10);
  return g_variant_ref_sink (g_variant_dict_end (&dict));
}

/* Scrolls the first GtkScrolledWindow below @widget to its top. */
static gboolean
scroll_to_top (GtkWidget *widget)
{
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      if (GTK_IS_SCROLLED_WINDOW (child))
        {
          /* After the list's layout, which keeps the rows it showed. */
          gtk_test_widget_wait_for_draw (child);
          gtk_adjustment_set_value (
              gtk_scrolled_window_get_vadjustment (GTK_SCROLLED_WINDOW (child)), 0.0);
          gtk_test_widget_wait_for_draw (child);
          return TRUE;
        }
      if (scroll_to_top (child))
        return TRUE;
    }
  return FALSE;
}

/* Runs what the main loop has ready, idle callbacks included. */
static void
drain_main_context (void)
{
  for (guint i = 0; i < 1000 && g_main_context_iteration (NULL, FALSE); i++)
    ;
}

static void
count_items_changed (GListModel *model, guint position, guint removed, guint added, guint *n)
{
  (*n)++;
}

/* The GtkLabel below @widget showing exactly @text, or NULL. */
static GtkWidget *
find_label (GtkWidget *widget, const char *text)
{
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found;

      if (GTK_IS_LABEL (child) && gtk_widget_get_mapped (child) &&
          g_strcmp0 (gtk_label_get_text (GTK_LABEL (child)), text) == 0)
        return child;
      if ((found = find_label (child, text)) != NULL)
        return found;
    }
  return NULL;
}

/* The GtkLabel below @widget showing a duration in seconds ("12.3 s"). */
static GtkWidget *
find_seconds_label (GtkWidget *widget)
{
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found;

      if (GTK_IS_LABEL (child) && g_ascii_isdigit (*gtk_label_get_text (GTK_LABEL (child))) &&
          g_str_has_suffix (gtk_label_get_text (GTK_LABEL (child)), " s"))
        return child;
      if ((found = find_seconds_label (child)) != NULL)
        return found;
    }
  return NULL;
}

static gboolean
label_changed_cond (gpointer data)
{
  gpointer *args = data; /* label, text */

  return g_strcmp0 (gtk_label_get_text (args[0]), args[1]) != 0;
}

/* A job as AiJobChanged sends it, of the PRD "prd_live". */
static GVariant *
live_job (const char *id, const char *state, gint64 created_at, gint64 started_at)
{
  GVariantDict dict;

  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "id", "s", id);
  g_variant_dict_insert (&dict, "prd-id", "s", "prd_live");
  g_variant_dict_insert (&dict, "organization", "s", "org_a");
  g_variant_dict_insert (&dict, "user-id", "s", "alice");
  g_variant_dict_insert (&dict, "state", "s", state);
  g_variant_dict_insert (&dict, "tokens", "t", (guint64) 0);
  g_variant_dict_insert (&dict, "chunks", "u", 0);
  g_variant_dict_insert (&dict, "created-at", "x", created_at);
  g_variant_dict_insert (&dict, "started-at", "x", started_at);
  g_variant_dict_insert (&dict, "duration", "t", (guint64) 0);
  return g_variant_ref_sink (g_variant_dict_end (&dict));
}

/* Under a few hundred queued jobs the window froze: each AiJobChanged
 * replaced its row, every change shifted and rebound the rows on screen,
 * and every bind set a tooltip (a pointer query to the X server). A burst
 * of signals is now one change of the list, a job that changes keeps its
 * row, the second tick changes no row, and the cells set no tooltip. */
static void
test_jobs_live (void)
{
  PrdAdminJobsPage *page = prd_admin_window_get_jobs_page (t.window);
  GListModel *model = prd_admin_jobs_page_get_model (page);
  PrdDbusHub1 *proxy =
      prd_admin_client_get_proxy (prd_admin_application_get_client (t.app)); /* (transfer none) */
  guint n_real = g_list_model_get_n_items (model);
  gint64 now = g_get_real_time ();
  g_autoptr (PrdAdminRecord) before = NULL;
  g_autoptr (PrdAdminRecord) after = NULL;
  g_autofree char *seconds = NULL;
  gpointer live_streaming[] = { model, "id", "live-019", "state", "streaming" };
  GtkWidget *label;
  GtkWidget *duration;
  guint n_changes = 0;
  gulong handler;

  prd_admin_window_show_page (t.window, "jobs");
  gtk_test_widget_wait_for_draw (GTK_WIDGET (t.window));
  handler = g_signal_connect (model, "items-changed", G_CALLBACK (count_items_changed), &n_changes);

  /* Twenty jobs queued at once: one change of the list. */
  for (guint i = 0; i < 20; i++)
    {
      g_autofree char *id = g_strdup_printf ("live-%03u", i);
      g_autoptr (GVariant) job = live_job (id, "queued", now + i, 0);

      g_signal_emit_by_name (proxy, "ai-job-changed", job);
    }
  wait_until (n_items_cond, (gpointer[]){ model, GUINT_TO_POINTER (n_real + 20) },
              "the twenty queued jobs");
  g_assert_cmpuint (n_changes, ==, 1);
  /* The list keeps showing the rows it showed: to the new ones, on top. */
  g_assert_true (scroll_to_top (GTK_WIDGET (page)));

  /* The newest starts: the same row, changed in place, and its cells show
   * it. */
  before = find_record (model, "id", "live-019");
  g_assert_nonnull (before);
  {
    g_autoptr (GVariant) job =
        live_job ("live-019", "streaming", now + 19, now - 10 * G_USEC_PER_SEC);

    g_signal_emit_by_name (proxy, "ai-job-changed", job);
  }
  wait_until (record_cond, live_streaming, "the job to run");
  after = find_record (model, "id", "live-019");
  g_assert_true (after == before);
  wait_until (toast_cond, "Running", "the row to show it running");
  gtk_test_widget_wait_for_draw (GTK_WIDGET (t.window));

  /* The cells take no tooltip text at each bind (each one a round trip to
   * the X server); a cut-off one gives its text when asked. */
  label = find_label (GTK_WIDGET (page), "prd_live");
  g_assert_nonnull (label);
  g_assert_null (gtk_widget_get_tooltip_text (label));
  g_assert_true (gtk_widget_get_has_tooltip (label));

  /* Its duration grows each second: the label changes, no row does. */
  duration = find_seconds_label (gtk_widget_get_parent (gtk_widget_get_parent (label)));
  g_assert_nonnull (duration);
  seconds = g_strdup (gtk_label_get_text (GTK_LABEL (duration)));
  n_changes = 0;
  wait_until (label_changed_cond, (gpointer[]){ duration, seconds }, "the duration to grow");
  g_assert_cmpuint (n_changes, ==, 0);
  g_signal_handler_disconnect (model, handler);

  /* A fresh listing is the hub's again. */
  prd_admin_jobs_page_refresh (page);
  wait_until (n_items_cond, (gpointer[]){ model, GUINT_TO_POINTER (n_real) }, "the hub's jobs");
}

static GtkWidget *
find_of_type (GtkWidget *widget, GType type)
{
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found;

      if (G_TYPE_CHECK_INSTANCE_TYPE (child, type))
        return child;
      if ((found = find_of_type (child, type)) != NULL)
        return found;
    }
  return NULL;
}

static GtkColumnViewColumn *
find_column (GtkColumnView *view, const char *title)
{
  GListModel *columns = gtk_column_view_get_columns (view);

  for (guint i = 0; i < g_list_model_get_n_items (columns); i++)
    {
      g_autoptr (GtkColumnViewColumn) column = g_list_model_get_item (columns, i);

      if (g_strcmp0 (gtk_column_view_column_get_title (column), title) == 0)
        return column;
    }
  return NULL;
}

/* Several jobs change a sorted column in one burst (one tick of the hub's
 * AiJobChanged): the list is in order after it. Changed first and
 * announced after, the rows were placed among others not yet placed and
 * stayed out of order. */
static void
test_jobs_sorted_burst (void)
{
  PrdAdminJobsPage *page = prd_admin_window_get_jobs_page (t.window);
  GListModel *model = prd_admin_jobs_page_get_model (page);
  PrdDbusHub1 *proxy = prd_admin_client_get_proxy (prd_admin_application_get_client (t.app));
  GtkColumnView *view;
  gint64 now = g_get_real_time ();
  guint64 last = 0;

  prd_admin_window_show_page (t.window, "jobs");
  view = GTK_COLUMN_VIEW (find_of_type (GTK_WIDGET (page), GTK_TYPE_COLUMN_VIEW));
  g_assert_nonnull (view);
  gtk_test_accessible_assert_property (
      GTK_ACCESSIBLE (find_of_type (GTK_WIDGET (page), GTK_TYPE_SEARCH_ENTRY)),
      GTK_ACCESSIBLE_PROPERTY_LABEL, "Filter jobs");
  for (guint i = 0; i < 12; i++)
    {
      g_autofree char *id = g_strdup_printf ("sorted-%02u", i);
      g_autoptr (GVariant) job = live_job (id, "streaming", now + i, now);

      g_signal_emit_by_name (proxy, "ai-job-changed", job);
    }
  drain_main_context ();
  gtk_column_view_sort_by_column (view, find_column (view, "Tokens"), GTK_SORT_ASCENDING);
  drain_main_context ();

  /* Every job's tokens change at once, the order reversed. */
  for (guint i = 0; i < 12; i++)
    {
      g_autofree char *id = g_strdup_printf ("sorted-%02u", i);
      g_autoptr (GVariant) base = live_job (id, "streaming", now + i, now);
      g_autoptr (GVariant) job = NULL;
      GVariantDict dict;

      g_variant_dict_init (&dict, base);
      g_variant_dict_insert (&dict, "tokens", "t", (guint64) (1000 - 10 * i));
      job = g_variant_ref_sink (g_variant_dict_end (&dict));
      g_signal_emit_by_name (proxy, "ai-job-changed", job);
    }
  drain_main_context ();
  for (guint i = 0; i < g_list_model_get_n_items (model); i++)
    {
      g_autoptr (PrdAdminRecord) record = g_list_model_get_item (model, i);
      guint64 tokens = (guint64) prd_admin_record_get_int (record, "tokens");

      g_assert_cmpuint (tokens, >=, last);
      last = tokens;
    }
  gtk_column_view_sort_by_column (view, NULL, GTK_SORT_ASCENDING);
  prd_admin_jobs_page_refresh (page);
  drain_main_context ();
}

static guint
count_finished (GListModel *model)
{
  guint n = 0;

  for (guint i = 0; i < g_list_model_get_n_items (model); i++)
    {
      g_autoptr (PrdAdminRecord) record = g_list_model_get_item (model, i);
      const char *state = prd_admin_record_get_string (record, "state");

      n += !g_str_equal (state, "queued") && !g_str_equal (state, "streaming");
    }
  return n;
}

static gboolean
all_finished_cond (gpointer data)
{
  return count_finished (data) == g_list_model_get_n_items (data);
}

/* The hub lists only the last PRD_HUB_DBUS_MAX_FINISHED_JOBS finished jobs;
 * the page keeps no more, dropping those that finished first. The jobs
 * come as AiJobChanged from the proxy (a hub that ran a hundred jobs would
 * take too long here). */
static void
test_jobs_cap (void)
{
  PrdAdminJobsPage *page = prd_admin_window_get_jobs_page (t.window);
  GListModel *model = prd_admin_jobs_page_get_model (page);
  PrdDbusHub1 *proxy =
      prd_admin_client_get_proxy (prd_admin_application_get_client (t.app)); /* (transfer none) */
  g_autoptr (PrdAdminRecord) first_fake = NULL;
  g_autoptr (GPtrArray) real_finished = g_ptr_array_new_with_free_func (g_free);
  guint n_real = g_list_model_get_n_items (model);
  gint64 now = g_get_real_time ();

  G_STATIC_ASSERT (PRD_ADMIN_JOBS_MAX_FINISHED == PRD_HUB_DBUS_MAX_FINISHED_JOBS);
  g_assert_nonnull (proxy);
  prd_admin_window_show_page (t.window, "jobs");
  /* The jobs of test_jobs, all finished (the slow one within a second). */
  g_assert_cmpuint (n_real, ==, 3);
  wait_until (all_finished_cond, model, "the jobs of test_jobs to finish");
  for (guint i = 0; i < n_real; i++)
    {
      g_autoptr (PrdAdminRecord) record = g_list_model_get_item (model, i);
      const char *state = prd_admin_record_get_string (record, "state");

      if (!g_str_equal (state, "queued") && !g_str_equal (state, "streaming"))
        g_ptr_array_add (real_finished, g_strdup (prd_admin_record_get_string (record, "id")));
    }

  for (guint i = 0; i < PRD_HUB_DBUS_MAX_FINISHED_JOBS; i++)
    {
      g_autofree char *id = g_strdup_printf ("fake-%03u", i);
      g_autoptr (GVariant) job = finished_job (id, now + i);

      g_signal_emit_by_name (proxy, "ai-job-changed", job);
      /* As from the bus: one at a time, the main loop running between (the
       * clients answer the hub's pings). */
      g_main_context_iteration (NULL, FALSE);
    }
  /* The page applies the signals when the main loop is idle. */
  drain_main_context ();
  /* The hundred newest finished jobs stay; the real ones, which finished
   * before, are gone. */
  g_assert_cmpuint (g_list_model_get_n_items (model), ==, PRD_HUB_DBUS_MAX_FINISHED_JOBS);
  g_assert_cmpuint (count_finished (model), ==, PRD_HUB_DBUS_MAX_FINISHED_JOBS);
  for (guint i = 0; i < real_finished->len; i++)
    {
      g_autoptr (PrdAdminRecord) gone = find_record (model, "id", real_finished->pdata[i]);

      g_assert_null (gone);
    }
  first_fake = find_record (model, "id", "fake-000");
  g_assert_nonnull (first_fake);

  /* A change of a finished job it keeps does not count it twice. */
  {
    g_autoptr (GVariant) job = finished_job ("fake-050", now + 50);

    g_signal_emit_by_name (proxy, "ai-job-changed", job);
    drain_main_context ();
  }
  g_assert_cmpuint (count_finished (model), ==, PRD_HUB_DBUS_MAX_FINISHED_JOBS);
  g_clear_object (&first_fake);
  first_fake = find_record (model, "id", "fake-000");
  g_assert_nonnull (first_fake);
  /* One more finished job: the first fake one goes. */
  {
    g_autoptr (GVariant) job = finished_job ("fake-100", now + 100);

    g_signal_emit_by_name (proxy, "ai-job-changed", job);
    drain_main_context ();
  }
  g_assert_cmpuint (count_finished (model), ==, PRD_HUB_DBUS_MAX_FINISHED_JOBS);
  g_clear_object (&first_fake);
  first_fake = find_record (model, "id", "fake-000");
  g_assert_null (first_fake);

  /* A fresh listing is the hub's again. */
  prd_admin_jobs_page_refresh (page);
  wait_until (n_items_cond, (gpointer[]){ model, GUINT_TO_POINTER (n_real) }, "the hub's jobs");
  g_assert_null (find_record (model, "id", "fake-100"));
}

/* Counts the ListIntegrations calls the app sends (in the bus's worker
 * thread). */
static GDBusMessage *
count_list_integrations (GDBusConnection *connection,
                         GDBusMessage *message,
                         gboolean incoming,
                         gpointer user_data)
{
  if (!incoming && g_dbus_message_get_message_type (message) == G_DBUS_MESSAGE_TYPE_METHOD_CALL &&
      g_strcmp0 (g_dbus_message_get_member (message), "ListIntegrations") == 0)
    g_atomic_int_inc ((int *) user_data);
  return message;
}

static gboolean
n_refreshes_cond (gpointer data)
{
  gpointer *args = data;

  return prd_admin_integrations_page_get_n_refreshes (args[0]) >= GPOINTER_TO_UINT (args[1]);
}

static void
test_integrations (void)
{
  PrdAdminIntegrationsPage *page = prd_admin_window_get_integrations_page (t.window);
  GListModel *model = prd_admin_integrations_page_get_model (page);
  PrdDbusHub1 *proxy =
      prd_admin_client_get_proxy (prd_admin_application_get_client (t.app)); /* (transfer none) */
  GDBusConnection *connection = g_dbus_proxy_get_connection (G_DBUS_PROXY (proxy));
  guint n_refreshes;
  /* Static: a filter may still run, in the worker, after its removal. */
  static int calls;
  guint filter;

  prd_admin_window_show_page (t.window, "integrations");
  g_assert_cmpuint (prd_admin_integrations_page_get_n_refreshes (page), >=, 1);
  g_assert_cmpuint (g_list_model_get_n_items (model), ==, 0);
  g_assert_cmpstr (inner_stack_page (GTK_WIDGET (page)), ==, "empty");
  /* The hub's status words are shown as words for people, translated
   * (po/de.po has them: the po-de test). */
  g_assert_cmpstr (prd_admin_word ("connected"), ==, "Connected");
  g_assert_cmpstr (prd_admin_word ("error"), ==, "Error");
  g_assert_cmpstr (prd_admin_word ("disconnected"), ==, "Disconnected");

  /* A burst of IntegrationStatusChanged while a listing is in flight asks
   * for one listing more after it, not one per signal (a cancelled call
   * still costs the hub its work). */
  g_atomic_int_set (&calls, 0);
  filter = g_dbus_connection_add_filter (connection, count_list_integrations, &calls, NULL);
  n_refreshes = prd_admin_integrations_page_get_n_refreshes (page);
  for (guint i = 0; i < 20; i++)
    {
      g_autoptr (GVariant) status = g_variant_ref_sink (g_variant_new ("a{sv}", NULL));

      g_signal_emit_by_name (proxy, "integration-status-changed", status);
    }
  wait_until (n_refreshes_cond, (gpointer[]){ page, GUINT_TO_POINTER (n_refreshes + 1) },
              "the first listing");
  g_assert_cmpint (g_atomic_int_get (&calls), <=, 2);
  wait_until (n_refreshes_cond, (gpointer[]){ page, GUINT_TO_POINTER (n_refreshes + 2) },
              "the listing after the burst");
  g_assert_cmpint (g_atomic_int_get (&calls), ==, 2);
  g_dbus_connection_remove_filter (connection, filter);
  g_assert_cmpuint (g_list_model_get_n_items (model), ==, 0);
  g_assert_true (shows_label (GTK_WIDGET (page), "No Integrations"));
  save_screenshot (GTK_WIDGET (t.window), "integrations");

  /* "Test Now" of an integration the hub does not have: the hub's error,
   * without its D-Bus name, in a toast. */
  g_assert_true (
      gtk_widget_activate_action (GTK_WIDGET (page), "integrations.test", "(ss)", "org_a", "jira"));
  wait_until (toast_cond, "Test failed: No integration jira is configured for organization org_a",
              "the toast");
  g_assert_cmpuint (dismiss_toasts (GTK_WIDGET (t.window)), ==, 1);
  wait_until (no_toast_cond,
              "Test failed: No integration jira is configured for organization org_a",
              "the toast to go");
}

/* Text from the hub is text: an organization id, a person's name and a
 * service's error message holding '&', entities, '<' and markup (where the
 * hub lets them through) show as they are, in rows, dialogs and toasts.
 * Read as Pango markup they would blank the label (GTK warns "Failed to set
 * text … from markup", which gtk_test_init makes fatal) or render <b> bold. */
#define MARKUP_ORG   "R&D <b>bold</b> <"
#define MARKUP_NAME  "Eve & Co &amp; Sons"
#define MARKUP_ERROR "Project R&D <b>unknown</b> & scope <missing"

static void
on_error_request (SoupServer *server,
                  SoupServerMessage *msg,
                  const char *path,
                  GHashTable *query,
                  gpointer user_data)
{
  static const char body[] = "{\"errorMessages\":[\"" MARKUP_ERROR "\"],\"errors\":{}}";

  soup_server_message_set_status (msg, 400, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_STATIC, body,
                                    strlen (body));
}

static void
run_prdhub (const char *const *argv, const char *input)
{
  g_autoptr (GSubprocess) process = NULL;
  g_autoptr (GError) error = NULL;

  process = g_subprocess_newv (
      argv, (input != NULL ? G_SUBPROCESS_FLAGS_STDIN_PIPE : 0) | G_SUBPROCESS_FLAGS_STDOUT_SILENCE,
      &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_communicate_utf8 (process, input, NULL, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_subprocess_wait_check (process, NULL, &error));
  g_assert_no_error (error);
}

static void
test_markup (void)
{
  PrdAdminOverviewPage *overview = prd_admin_window_get_overview_page (t.window);
  PrdAdminIntegrationsPage *integrations = prd_admin_window_get_integrations_page (t.window);
  PrdAdminSessionsPage *sessions = prd_admin_window_get_sessions_page (t.window);
  GListModel *session_model = prd_admin_sessions_page_get_model (sessions);
  g_autoptr (SoupServer) server = soup_server_new (NULL, NULL);
  g_autoptr (PrdIdentity) identity = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (PrdAdminRecord) eve = NULL;
  g_autofree char *base_url = NULL;
  g_autofree char *base_url_arg = NULL;
  g_autofree char *data_dir = g_build_filename (t.tmp_dir, "hub", NULL);
  g_autofree char *token = NULL;
  g_autofree char *eve_id = NULL;
  PrdTestClient *client;
  AdwMessageDialog *dialog;
  AdwPreferencesRow *row;
  GSList *uris;
  gpointer eve_cond[] = { session_model, "name", MARKUP_NAME, "organization", "R&D" };
  const char *row_title = "Jira — " MARKUP_ORG;
  const char *toast = "Error: Jira — " MARKUP_ORG;
  const char *disconnected = "Disconnected: " MARKUP_NAME;

  /* The overview's rows that carry the hub's words are not markup. */
  row = find_row (GTK_WIDGET (overview), "On the LAN");
  g_assert_nonnull (row);
  g_assert_false (adw_preferences_row_get_use_markup (row));
  row = find_row (GTK_WIDGET (overview), "Uptime");
  g_assert_nonnull (row);
  g_assert_false (adw_preferences_row_get_use_markup (row));

  /* Jira for the organization MARKUP_ORG, whose server answers every call
   * with an error message holding markup. */
  soup_server_add_handler (server, NULL, on_error_request, NULL, NULL);
  g_assert_true (soup_server_listen_local (server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error));
  g_assert_no_error (error);
  uris = soup_server_get_uris (server);
  base_url = g_uri_to_string (uris->data);
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  base_url_arg = g_strconcat ("baseUrl=", base_url, NULL);
  {
    const char *set[] = { g_getenv ("PRDHUB_BIN"),
                          "integration",
                          "set",
                          "jira",
                          "--data-dir",
                          data_dir,
                          "--org",
                          MARKUP_ORG,
                          base_url_arg,
                          "deployment=datacenter",
                          "projectKey=PRD",
                          NULL };
    const char *secret[] = { g_getenv ("PRDHUB_BIN"),
                             "integration",
                             "secret",
                             "jira",
                             "token",
                             "--data-dir",
                             data_dir,
                             "--org",
                             MARKUP_ORG,
                             NULL };

    run_prdhub (set, NULL);
    run_prdhub (secret, "pat-value\n");
  }

  /* The row shows the organization id as it is… */
  prd_admin_window_show_page (t.window, "integrations");
  prd_admin_integrations_page_refresh (integrations);
  wait_until (toast_cond, (gpointer) row_title, "the integration's row");
  /* …and so does the toast of "Test Now", and the row the service's error. */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (integrations), "integrations.test", "(ss)",
                                             MARKUP_ORG, "jira"));
  wait_until (toast_cond, (gpointer) toast, "the toast of the test");
  wait_until (label_containing_cond, "last error: Jira: HTTP 400 Bad Request: " MARKUP_ERROR,
              "the last error in the row");
  g_assert_true (shows_label (GTK_WIDGET (integrations), row_title));
  save_screenshot (GTK_WIDGET (t.window), "integrations-markup");
  g_assert_cmpuint (dismiss_toasts (GTK_WIDGET (t.window)), >=, 1);
  wait_until (no_toast_cond, (gpointer) toast, "the toast to go");

  /* A person named MARKUP_NAME of the organization "R&D" (the hub refuses
   * '<' and '>' in a token's name and organization, not '&' and entities):
   * the sessions' cells, the confirmation and the toast of the disconnect. */
  identity = prd_identity_new ("eve", MARKUP_NAME, NULL, "R&D", PRD_ROLE_EDITOR,
                               g_get_real_time () / G_USEC_PER_SEC + 3600);
  token = prd_test_mint (t.auth, identity);
  client = prd_test_client_connect (t.hub->url, token);
  prd_admin_window_show_page (t.window, "sessions");
  wait_until (record_cond, eve_cond, "eve's session");
  wait_until (toast_cond, MARKUP_NAME, "eve's name in the list");
  g_assert_true (shows_label (GTK_WIDGET (sessions), "R&D"));
  eve = find_record (session_model, "name", MARKUP_NAME);
  eve_id = g_strdup (prd_admin_record_get_string (eve, "id"));
  g_assert_true (
      gtk_widget_activate_action (GTK_WIDGET (sessions), "sessions.disconnect", "s", eve_id));
  wait_until (dialog_cond, NULL, "the confirmation");
  dialog = find_dialog ();
  g_assert_false (adw_message_dialog_get_heading_use_markup (dialog));
  g_assert_false (adw_message_dialog_get_body_use_markup (dialog));
  g_assert_cmpstr (adw_message_dialog_get_heading (dialog), ==, "Disconnect " MARKUP_NAME "?");
  g_assert_true (shows_label (GTK_WIDGET (dialog), "Disconnect " MARKUP_NAME "?"));
  click_response (dialog, "_Disconnect");
  wait_until (no_dialog_cond, NULL, "the dialog to close");
  wait_until (toast_cond, (gpointer) disconnected, "the toast of the disconnect");
  g_assert_cmpuint (dismiss_toasts (GTK_WIDGET (t.window)), >=, 1);
  wait_until (no_toast_cond, (gpointer) disconnected, "the toast to go");
  prd_test_client_free (client);
  soup_server_disconnect (server);
}

/* A name of 256 characters (a client chooses its own) made the
 * confirmation 949 px high on an 800-px screen, its buttons out of reach:
 * dialogs and toasts show 64 characters and "…". The same for the AI job's
 * Cancel dialog. */
static void
test_long_names (void)
{
  PrdAdminSessionsPage *sessions = prd_admin_window_get_sessions_page (t.window);
  PrdAdminJobsPage *jobs = prd_admin_window_get_jobs_page (t.window);
  PrdDbusHub1 *proxy = prd_admin_client_get_proxy (prd_admin_application_get_client (t.app));
  GListModel *model = prd_admin_sessions_page_get_model (sessions);
  g_autoptr (GString) name = g_string_new (NULL);
  g_autoptr (PrdIdentity) identity = NULL;
  g_autoptr (PrdAdminRecord) record = NULL;
  g_autofree char *token = NULL;
  g_autofree char *shown = NULL;
  g_autofree char *heading = NULL;
  g_autofree char *toast = NULL;
  g_autofree char *id = NULL;
  PrdTestClient *client;
  AdwMessageDialog *dialog;
  gpointer cond[] = { model, "user-id", "wendy", "user-id", "wendy" };

  for (guint i = 0; i < 256; i++)
    g_string_append_c (name, 'W');
  shown = g_strconcat (name->str + 192, "…", NULL); /* 64 W and "…" */
  heading = g_strdup_printf ("Disconnect %s?", shown);
  toast = g_strdup_printf ("Disconnected: %s", shown);
  identity = prd_identity_new ("wendy", name->str, NULL, "org_a", PRD_ROLE_EDITOR,
                               g_get_real_time () / G_USEC_PER_SEC + 3600);
  token = prd_test_mint (t.auth, identity);
  client = prd_test_client_connect (t.hub->url, token);
  prd_admin_window_show_page (t.window, "sessions");
  wait_until (record_cond, cond, "wendy's session");
  record = find_record (model, "user-id", "wendy");
  id = g_strdup (prd_admin_record_get_string (record, "id"));
  g_assert_true (
      gtk_widget_activate_action (GTK_WIDGET (sessions), "sessions.disconnect", "s", id));
  wait_until (dialog_cond, NULL, "the confirmation");
  dialog = find_dialog ();
  g_assert_cmpstr (adw_message_dialog_get_heading (dialog), ==, heading);
  g_assert_null (strstr (adw_message_dialog_get_body (dialog), name->str + 191));
  g_assert_nonnull (strstr (adw_message_dialog_get_body (dialog), shown));
  save_screenshot (GTK_WIDGET (dialog), "sessions-confirm-long-name");
  click_response (dialog, "_Disconnect");
  wait_until (no_dialog_cond, NULL, "the dialog to close");
  wait_until (toast_cond, toast, "the toast of the disconnect");
  g_assert_cmpuint (dismiss_toasts (GTK_WIDGET (t.window)), >=, 1);
  wait_until (no_toast_cond, toast, "the toast to go");
  prd_test_client_free (client);

  /* A running AI job of a user with a long id. */
  {
    g_autoptr (GVariant) base = live_job ("long-user", "streaming", g_get_real_time (), 0);
    g_autoptr (GVariant) job = NULL;
    GVariantDict dict;

    g_variant_dict_init (&dict, base);
    g_variant_dict_insert (&dict, "user-id", "s", name->str);
    job = g_variant_ref_sink (g_variant_dict_end (&dict));
    g_signal_emit_by_name (proxy, "ai-job-changed", job);
  }
  drain_main_context ();
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (jobs), "jobs.cancel", "s", "long-user"));
  wait_until (dialog_cond, NULL, "the Cancel confirmation");
  dialog = find_dialog ();
  g_assert_null (strstr (adw_message_dialog_get_body (dialog), name->str + 191));
  g_assert_nonnull (strstr (adw_message_dialog_get_body (dialog), shown));
  click_response (dialog, "_Keep Running");
  wait_until (no_dialog_cond, NULL, "the Cancel dialog to close");
  prd_admin_jobs_page_refresh (jobs);
  drain_main_context ();
}

/* A Jira whose server takes the check's request and answers only when the
 * test says so. */
static void
on_held_request (SoupServer *server,
                 SoupServerMessage *msg,
                 const char *path,
                 GHashTable *query,
                 gpointer user_data)
{
  GPtrArray *held = user_data;

  soup_server_message_pause (msg);
  g_ptr_array_add (held, g_object_ref (msg));
}

static gboolean
held_cond (gpointer data)
{
  return ((GPtrArray *) data)->len > 0;
}

/* "Test Now" waits for the hub's answer however long its check takes (the
 * hub's check of a service that does not answer takes minutes; the default
 * D-Bus timeout is 25 s), and the row shows it is being tested meanwhile.
 * The admin's proxy gets a default timeout far shorter than the wait here:
 * a call that used it would fail with "Timeout was reached". */
static void
test_integration_slow (void)
{
  PrdAdminIntegrationsPage *integrations = prd_admin_window_get_integrations_page (t.window);
  GDBusProxy *proxy =
      G_DBUS_PROXY (prd_admin_client_get_proxy (prd_admin_application_get_client (t.app)));
  g_autoptr (SoupServer) server = soup_server_new (NULL, NULL);
  g_autoptr (GPtrArray) held = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr (GError) error = NULL;
  g_autofree char *data_dir = g_build_filename (t.tmp_dir, "hub", NULL);
  g_autofree char *base_url = NULL;
  g_autofree char *base_url_arg = NULL;
  static const char myself[] = "{\"accountId\":\"a-1\",\"displayName\":\"Bot\"}";
  const char *row_title = "Jira — org_slow";
  const char *toast = "Connected: Jira — org_slow";
  SoupServerMessage *msg;
  GSList *uris;

  soup_server_add_handler (server, NULL, on_held_request, held, NULL);
  g_assert_true (soup_server_listen_local (server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error));
  g_assert_no_error (error);
  uris = soup_server_get_uris (server);
  base_url = g_uri_to_string (uris->data);
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  base_url_arg = g_strconcat ("baseUrl=", base_url, NULL);
  {
    const char *set[] = { g_getenv ("PRDHUB_BIN"),
                          "integration",
                          "set",
                          "jira",
                          "--data-dir",
                          data_dir,
                          "--org",
                          "org_slow",
                          base_url_arg,
                          "deployment=datacenter",
                          "projectKey=PRD",
                          NULL };
    const char *secret[] = { g_getenv ("PRDHUB_BIN"),
                             "integration",
                             "secret",
                             "jira",
                             "token",
                             "--data-dir",
                             data_dir,
                             "--org",
                             "org_slow",
                             NULL };

    run_prdhub (set, NULL);
    run_prdhub (secret, "pat-value\n");
  }
  prd_admin_window_show_page (t.window, "integrations");
  prd_admin_integrations_page_refresh (integrations);
  wait_until (toast_cond, (gpointer) row_title, "the integration's row");

  g_assert_nonnull (proxy);
  g_dbus_proxy_set_default_timeout (proxy, 200);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (integrations), "integrations.test", "(ss)",
                                             "org_slow", "jira"));
  wait_until (toast_cond, "Testing…", "the row to show the test");
  wait_until (held_cond, held, "the hub's check to reach the service");
  /* Far longer than the proxy's default timeout. */
  run_for (1500);
  g_assert_false (shows_label_containing (GTK_WIDGET (t.window), "Test failed"));
  g_assert_true (shows_label (GTK_WIDGET (integrations), "Testing…"));
  save_screenshot (GTK_WIDGET (t.window), "integrations-testing");

  /* The service answers: the hub's answer reaches the page. */
  msg = g_ptr_array_index (held, 0);
  soup_server_message_set_status (msg, 200, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_STATIC, myself,
                                    strlen (myself));
  soup_server_message_unpause (msg);
  wait_until (toast_cond, (gpointer) toast, "the toast of the test");
  wait_until (no_toast_cond, "Testing…", "the row to show the result");
  wait_until (label_containing_cond, "Connected · last success", "the row's new status");
  g_dbus_proxy_set_default_timeout (proxy, -1);
  g_assert_cmpuint (dismiss_toasts (GTK_WIDGET (t.window)), >=, 1);
  wait_until (no_toast_cond, (gpointer) toast, "the toast to go");
  soup_server_disconnect (server);
}

static void
test_no_hub (void)
{
  PrdAdminSessionsPage *sessions = prd_admin_window_get_sessions_page (t.window);
  g_autoptr (PrdAdminRecord) alice =
      find_record (prd_admin_sessions_page_get_model (sessions), "name", "alice");
  GtkWidget *start;

  /* A confirmation open when the hub stops goes with it (its Disconnect
   * would do nothing). */
  g_assert_nonnull (alice);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (sessions), "sessions.disconnect", "s",
                                             prd_admin_record_get_string (alice, "id")));
  wait_until (dialog_cond, NULL, "the confirmation");
  g_clear_pointer (&t.alice, prd_test_client_free);
  g_clear_pointer (&t.bob, prd_test_client_free);
  g_clear_pointer (&t.carol, prd_test_client_free);
  hub_process_stop (t.hub);
  wait_until (state_page_cond, "no-hub", "the no-hub page");
  wait_until (no_dialog_cond, NULL, "the confirmation to close");
  /* Named for screen readers without the mnemonic's underscore. */
  start = find_button (GTK_WIDGET (t.window), "_Start Hub");
  g_assert_nonnull (start);
  gtk_test_accessible_assert_property (GTK_ACCESSIBLE (start), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                       "Start Hub");
  gtk_test_accessible_assert_property (
      GTK_ACCESSIBLE (find_of_type (GTK_WIDGET (t.window), GTK_TYPE_MENU_BUTTON)),
      GTK_ACCESSIBLE_PROPERTY_LABEL, "Main Menu");
  g_assert_true (shows_label (GTK_WIDGET (t.window), "No Hub Running"));
  g_assert_true (gtk_widget_is_sensitive (GTK_WIDGET (t.window)));
  g_assert_cmpuint (g_list_model_get_n_items (prd_admin_sessions_page_get_model (
                        prd_admin_window_get_sessions_page (t.window))),
                    ==, 0);
  save_screenshot (GTK_WIDGET (t.window), "no-hub");
}

static gboolean
address_changed_cond (gpointer data)
{
  PrdAdminOverviewPage *page = prd_admin_window_get_overview_page (t.window);
  const char *address = prd_admin_overview_page_get_value (page, "address");

  return state_page_cond ("hub") && g_str_has_prefix (address, "http://127.0.0.1:") &&
         g_strcmp0 (address, data) != 0;
}

static guint32
hub_pid (void)
{
  g_autoptr (GDBusConnection) bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, NULL);
  g_autoptr (GVariant) reply = NULL;
  guint32 pid = 0;

  reply = g_dbus_connection_call_sync (
      bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
      "GetConnectionUnixProcessID", g_variant_new ("(s)", "org.prdtool.Hub"),
      G_VARIANT_TYPE ("(u)"), G_DBUS_CALL_FLAGS_NONE, -1, NULL, NULL);
  g_assert_nonnull (reply);
  g_variant_get (reply, "(u)", &pid);
  return pid;
}

/* The Start Hub button: the session bus starts the hub from
 * data/org.prdtool.Hub.service (here pointed at the built hub), and the
 * window follows it. */
static void
test_start_hub (void)
{
  g_autofree char *old_address = g_strdup (t.hub->url);
  guint32 pid;

  g_assert_true (state_page_cond ("no-hub"));
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (t.window), "win.start-hub", NULL));
  wait_until (address_changed_cond, old_address, "the started hub's pages");
  g_assert_null (prd_admin_window_get_banner (t.window));
  pid = hub_pid ();
  g_assert_cmpuint (pid, >, 0);
  g_assert_cmpint (kill ((pid_t) pid, SIGTERM), ==, 0);
  wait_until (state_page_cond, "no-hub", "the no-hub page again");
}

static void
set_activation_secret (const char *secret)
{
  g_autoptr (GDBusConnection) bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, NULL);
  g_autoptr (GVariant) reply = NULL;
  g_autoptr (GError) error = NULL;
  GVariantBuilder env;

  g_variant_builder_init (&env, G_VARIANT_TYPE ("a{ss}"));
  g_variant_builder_add (&env, "{ss}", "PRDHUB_JWT_SECRET", secret);
  reply = g_dbus_connection_call_sync (bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                       "org.freedesktop.DBus", "UpdateActivationEnvironment",
                                       g_variant_new ("(a{ss})", &env), NULL,
                                       G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
  g_assert_no_error (error);
}

static gboolean
banner_cond (gpointer data)
{
  return prd_admin_window_get_banner (t.window) != NULL;
}

/* A hub that cannot start: the error stays in a banner (an alert for
 * screen readers) until dismissed, not in a toast gone after 4 s. */
static void
test_start_hub_fails (void)
{
  const char *banner;
  GtkWidget *label;

  g_assert_true (state_page_cond ("no-hub"));
  g_assert_null (prd_admin_window_get_banner (t.window));
  /* The hub refuses a secret this short: it exits at once. */
  set_activation_secret ("short");
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (t.window), "win.start-hub", NULL));
  wait_until (banner_cond, NULL, "the banner");
  banner = prd_admin_window_get_banner (t.window);
  g_assert_true (g_str_has_prefix (banner, "Could not start the hub: "));
  label = find_label (GTK_WIDGET (t.window), banner);
  g_assert_nonnull (label);
  gtk_test_accessible_assert_role (GTK_ACCESSIBLE (gtk_widget_get_parent (label)),
                                   GTK_ACCESSIBLE_ROLE_ALERT);
  save_screenshot (GTK_WIDGET (t.window), "start-hub-failed");
  /* Still there long after a toast would have gone. */
  run_for (4500);
  g_assert_nonnull (prd_admin_window_get_banner (t.window));
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (t.window), "win.dismiss-banner", NULL));
  g_assert_null (prd_admin_window_get_banner (t.window));
  /* It shows again, and goes once a hub runs (test_start_hub). */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (t.window), "win.start-hub", NULL));
  wait_until (banner_cond, NULL, "the banner again");
  set_activation_secret (SECRET);
}

/* Every ListSessions the fake answered has reached the page. */
static gboolean
churn_listed_cond (gpointer data)
{
  gpointer *args = data; /* fake, the page's refreshes before */
  FakeHub *fake = args[0];
  guint refreshes =
      prd_admin_sessions_page_get_n_refreshes (prd_admin_window_get_sessions_page (t.window));

  return refreshes - GPOINTER_TO_UINT (args[1]) ==
         (guint) g_atomic_int_get (&fake->n_list_sessions);
}

/* The AdwStatusPage shown below @widget, or NULL. */
static AdwStatusPage *
shown_status_page (GtkWidget *widget)
{
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      AdwStatusPage *found;

      if (ADW_IS_STATUS_PAGE (child) && gtk_widget_get_mapped (child))
        return ADW_STATUS_PAGE (child);
      /* Of a stack, the page it shows (the one before may still fade). */
      if (GTK_IS_STACK (child))
        {
          GtkWidget *shown = gtk_stack_get_visible_child (GTK_STACK (child));

          if (shown != NULL && ADW_IS_STATUS_PAGE (shown))
            return ADW_STATUS_PAGE (shown);
          if (shown != NULL && (found = shown_status_page (shown)) != NULL)
            return found;
          continue;
        }
      if ((found = shown_status_page (child)) != NULL)
        return found;
    }
  return NULL;
}

/* Another user's hub (it answers Forbidden) showed as a running hub with
 * nobody connected; now the window says whose it is. */
static void
test_forbidden_hub (void)
{
  FakeHub *fake = fake_hub_start (FAKE_FORBIDDEN);
  const char *description;
  AdwStatusPage *page;

  wait_until (state_page_cond, "unreadable", "the unreadable page");
  page = shown_status_page (GTK_WIDGET (t.window));
  g_assert_nonnull (page);
  g_assert_cmpstr (adw_status_page_get_title (page), ==, "This Hub Belongs to Another User");
  description = adw_status_page_get_description (page);
  g_assert_cmpstr (description, ==,
                   "The hub on this session bus refuses you: Only the user who runs the hub is "
                   "served");
  gtk_test_accessible_assert_role (GTK_ACCESSIBLE (page), GTK_ACCESSIBLE_ROLE_ALERT);
  save_screenshot (GTK_WIDGET (t.window), "forbidden");
  fake_hub_stop (fake);
  wait_until (state_page_cond, "no-hub", "the no-hub page after the fake");
}

/* A process that owns the name without the interface. */
static void
test_impostor_hub (void)
{
  FakeHub *fake = fake_hub_start (FAKE_NO_INTERFACE);
  AdwStatusPage *page;

  wait_until (state_page_cond, "unreadable", "the unreadable page");
  page = shown_status_page (GTK_WIDGET (t.window));
  g_assert_nonnull (page);
  g_assert_cmpstr (adw_status_page_get_title (page), ==, "Cannot Read the Hub");
  g_assert_true (
      g_str_has_prefix (adw_status_page_get_description (page), "Cannot read the hub: "));
  fake_hub_stop (fake);
  wait_until (state_page_cond, "no-hub", "the no-hub page after the fake");
}

static gboolean
inner_page_cond (gpointer data)
{
  gpointer *args = data; /* widget, name */

  return g_strcmp0 (inner_stack_page (args[0]), args[1]) == 0;
}

/* A hub whose listings fail: the pages say so, not "nobody is connected";
 * the overview does not claim the hub is not on the LAN. */
static void
test_list_error (void)
{
  FakeHub *fake = fake_hub_start (FAKE_LIST_ERROR);
  PrdAdminOverviewPage *overview = prd_admin_window_get_overview_page (t.window);
  GtkWidget *pages[] = {
    GTK_WIDGET (prd_admin_window_get_sessions_page (t.window)),
    GTK_WIDGET (prd_admin_window_get_jobs_page (t.window)),
    GTK_WIDGET (prd_admin_window_get_integrations_page (t.window)),
  };

  wait_until (state_page_cond, "hub", "the fake hub's pages");
  for (guint i = 0; i < G_N_ELEMENTS (pages); i++)
    wait_until (inner_page_cond, (gpointer[]){ pages[i], "error" }, "the listing's error");
  prd_admin_window_show_page (t.window, "sessions");
  g_assert_true (shows_label (GTK_WIDGET (pages[0]), "Cannot List Sessions"));
  g_assert_true (
      shows_label (GTK_WIDGET (pages[0]), "Cannot read the hub: The fake hub lists nothing"));
  g_assert_false (shows_label (GTK_WIDGET (pages[0]), "No Sessions"));
  save_screenshot (GTK_WIDGET (t.window), "sessions-list-error");
  g_assert_cmpstr (prd_admin_overview_page_get_value (overview, "lan"), ==,
                   "Unknown: the hub does not say");
  fake_hub_stop (fake);
  wait_until (state_page_cond, "no-hub", "the no-hub page after the fake");
}

/* ~7,000 sessions churning: each SessionsChanged listed them all again,
 * back to back (a second of the window's time each). Now a listing waits
 * for the one in flight and then five times its cost. */
static void
test_sessions_churn (void)
{
  PrdAdminSessionsPage *page = prd_admin_window_get_sessions_page (t.window);
  guint refreshes = prd_admin_sessions_page_get_n_refreshes (page);
  FakeHub *fake = fake_hub_start (FAKE_CHURN);
  guint n_listings;

  wait_until (state_page_cond, "hub", "the fake hub's pages");
  while (g_atomic_int_get (&fake->n_signals) < FAKE_CHURN_SIGNALS)
    run_for (10);
  /* The last change is listed too. */
  run_for (500);
  wait_until (churn_listed_cond, (gpointer[]){ fake, GUINT_TO_POINTER (refreshes) },
              "the last listing");
  n_listings = (guint) g_atomic_int_get (&fake->n_list_sessions);
  g_test_message ("%d SessionsChanged, %u ListSessions", FAKE_CHURN_SIGNALS, n_listings);
  g_assert_cmpuint (n_listings, >=, 2);
  /* Back to back (40 ms each) over the second of signals made about 25. */
  g_assert_cmpuint (n_listings, <=, 12);
  fake_hub_stop (fake);
  wait_until (state_page_cond, "no-hub", "the no-hub page after the fake");
}

static void
on_activate (GApplication *application, gpointer user_data)
{
  int *status = user_data;
  g_autofree char *alice_token = NULL;
  g_autofree char *bob_token = NULL;
  g_autofree char *carol_token = NULL;
  g_autofree char *dave_token = NULL;
  g_autofree char *org_b_prd = NULL;
  g_autofree char *data_dir = NULL;
  g_autofree char *ai_url = NULL;

  /* The app first: it finds no hub, then follows the one that starts. */
  t.window =
      prd_admin_window_new (GTK_APPLICATION (t.app), prd_admin_application_get_client (t.app));
  gtk_window_present (GTK_WINDOW (t.window));
  wait_until (state_page_cond, "no-hub", "the no-hub page before the hub starts");

  data_dir = g_build_filename (t.tmp_dir, "hub", NULL);
  ai_url = ai_test_server_get_base_url (t.ai);
  t.hub = hub_process_spawn (data_dir, SECRET, ai_url, FALSE, NULL);
  wait_until (state_page_cond, "hub", "the hub's pages");

  alice_token = prd_test_mint_token (t.auth, "alice", "org_a", PRD_ROLE_EDITOR);
  bob_token = prd_test_mint_token (t.auth, "bob", "org_b", PRD_ROLE_VIEWER);
  carol_token = prd_test_mint_token (t.auth, "carol", "org_a", PRD_ROLE_EDITOR);
  dave_token = prd_test_mint_token (t.auth, "dave", "org_b", PRD_ROLE_EDITOR);
  t.prd_id = create_prd (alice_token, "Login");
  org_b_prd = create_prd (dave_token, "Roadmap");
  t.alice = prd_test_client_connect (t.hub->url, alice_token);
  t.bob = prd_test_client_connect (t.hub->url, bob_token);
  t.carol = prd_test_client_connect (t.hub->url, carol_token);
  join (t.alice, t.prd_id, "edit");
  join (t.bob, org_b_prd, "view");

  g_test_add_func ("/prd/admin-ui/window-size-setting", test_window_size_setting);
  g_test_add_func ("/prd/admin-ui/overview", test_overview);
  g_test_add_func ("/prd/admin-ui/integrations", test_integrations);
  g_test_add_func ("/prd/admin-ui/jobs", test_jobs);
  g_test_add_func ("/prd/admin-ui/jobs-cap", test_jobs_cap);
  g_test_add_func ("/prd/admin-ui/jobs-live", test_jobs_live);
  g_test_add_func ("/prd/admin-ui/jobs-sorted-burst", test_jobs_sorted_burst);
  g_test_add_func ("/prd/admin-ui/sessions", test_sessions);
  g_test_add_func ("/prd/admin-ui/markup", test_markup);
  g_test_add_func ("/prd/admin-ui/long-names", test_long_names);
  g_test_add_func ("/prd/admin-ui/integration-slow", test_integration_slow);
  g_test_add_func ("/prd/admin-ui/no-hub", test_no_hub);
  g_test_add_func ("/prd/admin-ui/start-hub-fails", test_start_hub_fails);
  g_test_add_func ("/prd/admin-ui/start-hub", test_start_hub);
  g_test_add_func ("/prd/admin-ui/forbidden-hub", test_forbidden_hub);
  g_test_add_func ("/prd/admin-ui/impostor-hub", test_impostor_hub);
  g_test_add_func ("/prd/admin-ui/list-error", test_list_error);
  g_test_add_func ("/prd/admin-ui/sessions-churn", test_sessions_churn);
  *status = g_test_run ();

  g_clear_pointer (&t.alice, prd_test_client_free);
  g_clear_pointer (&t.bob, prd_test_client_free);
  g_clear_pointer (&t.carol, prd_test_client_free);
  gtk_window_destroy (GTK_WINDOW (t.window));
  /* The window above is the app's; no other one. */
  g_signal_stop_emission_by_name (application, "activate");
}

int
main (int argc, char *argv[])
{
  g_autoptr (GTestDBus) bus = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *display = g_strdup (g_getenv ("DISPLAY"));
  int status = 1;

  /* GTestDBus clears DISPLAY: keep it for GTK. The bus starts the hub of
   * the Start Hub button with this environment. */
  g_setenv ("PRDHUB_JWT_SECRET", SECRET, TRUE);
  bus = g_test_dbus_new (G_TEST_DBUS_NONE);
  if (g_getenv ("PRDHUB_TEST_SERVICE_DIR") != NULL)
    g_test_dbus_add_service_dir (bus, g_getenv ("PRDHUB_TEST_SERVICE_DIR"));
  g_test_dbus_up (bus);
  if (display != NULL)
    g_setenv ("DISPLAY", display, TRUE);
  gtk_test_init (&argc, &argv, NULL);
  adw_init ();
  (void) PRD_ERROR;

  t.tmp_dir = g_dir_make_tmp ("prdhub-admin-ui-XXXXXX", &error);
  g_assert_no_error (error);
  t.shots_dir = g_build_filename (g_test_get_dir (G_TEST_BUILT), "screenshots", NULL);
  g_assert_cmpint (g_mkdir_with_parents (t.shots_dir, 0755), ==, 0);
  t.ai = ai_test_server_new (0, &error);
  g_assert_no_error (error);
  {
    g_autoptr (GBytes) secret = g_bytes_new_static (SECRET, strlen (SECRET));

    t.auth = prd_auth_new_hmac (secret, &error);
    g_assert_no_error (error);
  }

  /* The tests run inside the app's own life, from startup to shutdown. */
  t.app = prd_admin_application_new ();
  g_application_set_flags (G_APPLICATION (t.app), G_APPLICATION_NON_UNIQUE);
  g_signal_connect (t.app, "activate", G_CALLBACK (on_activate), &status);
  g_assert_cmpint (g_application_run (G_APPLICATION (t.app), 1, argv), ==, 0);
  g_clear_object (&t.app);

  g_clear_pointer (&t.hub, hub_process_free);
  g_clear_pointer (&t.ai, ai_test_server_free);
  g_clear_object (&t.auth);
  g_clear_pointer (&t.prd_id, g_free);
  prd_test_remove_tree (t.tmp_dir);
  g_free (t.tmp_dir);
  g_free (t.shots_dir);
  g_test_dbus_down (bus);
  return status;
}
