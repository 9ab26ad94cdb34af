/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * PrdAdminOverviewPage: where the hub listens, its version and uptime, its
 * counters now, and charts of the last ten minutes: connections, events
 * per second in and out, AI jobs running and queued. The labels follow the
 * proxy's properties (the hub sends PropertiesChanged at most twice a
 * second); the charts take one sample a second from the same values, the
 * event rates from the difference of the counters.
 */
#define G_LOG_DOMAIN "prd-admin"

#include "config.h"

#include <glib/gi18n.h>

#include "prd-admin-columns.h"

#include "prd-admin-overview-page.h"

struct _PrdAdminOverviewPage
{
  AdwBin parent_instance;

  GtkLabel *address_label;
  GtkLabel *version_label;
  GtkLabel *uptime_label;
  AdwActionRow *uptime_row;
  AdwActionRow *lan_row;
  GtkLabel *connections_label;
  GtkLabel *users_label;
  GtkLabel *prds_label;
  GtkLabel *jobs_label;
  GtkLabel *events_label;
  PrdAdminChart *connections_chart;
  PrdAdminChart *events_chart;
  PrdAdminChart *jobs_chart;

  PrdDbusHub1 *proxy; /* (owned) (nullable) */
  guint sample_id;
  gboolean have_last; /* the counters of the last sample are known */
  guint64 last_in;
  guint64 last_out;
  gint64 last_time; /* monotonic µs */
};

G_DEFINE_FINAL_TYPE (PrdAdminOverviewPage, prd_admin_overview_page, ADW_TYPE_BIN)

static void
set_number (GtkLabel *label, guint64 value)
{
  g_autofree char *text = g_strdup_printf ("%" G_GUINT64_FORMAT, value);

  gtk_label_set_text (label, text);
}

static void
update_uptime (PrdAdminOverviewPage *self)
{
  gint64 started = self->proxy != NULL ? prd_dbus_hub1_get_started_at (self->proxy) : 0;
  g_autofree char *uptime = NULL;
  g_autofree char *since = NULL;
  g_autofree char *subtitle = NULL;

  if (started <= 0)
    {
      gtk_label_set_text (self->uptime_label, "");
      adw_action_row_set_subtitle (self->uptime_row, "");
      return;
    }
  uptime = prd_admin_duration_to_string ((g_get_real_time () - started) / 1000);
  since = prd_admin_time_to_string (started);
  /* Translators: the subtitle of the uptime: when the hub started */
  subtitle = g_strdup_printf (_ ("Since %s"), since);
  gtk_label_set_text (self->uptime_label, uptime);
  adw_action_row_set_subtitle (self->uptime_row, subtitle);
}

/* What the hub announces on the LAN (its Discovery property). */
static void
update_lan (PrdAdminOverviewPage *self)
{
  GVariant *discovery = prd_dbus_hub1_get_discovery (self->proxy);
  const char *state = "", *name = "", *type = "", *reason = "";
  g_autofree char *text = NULL;
  guint16 port = 0;

  if (discovery != NULL)
    {
      g_variant_lookup (discovery, "state", "&s", &state);
      g_variant_lookup (discovery, "name", "&s", &name);
      g_variant_lookup (discovery, "type", "&s", &type);
      g_variant_lookup (discovery, "reason", "&s", &reason);
      g_variant_lookup (discovery, "port", "q", &port);
    }
  if (g_str_equal (state, "published"))
    /* Translators: the hub's LAN announcement: its name, the service type, the port */
    text = g_strdup_printf (_ ("Announced as “%s” (%s, port %u)"), name, type, port);
  else if (g_str_equal (state, "publishing"))
    text = g_strdup (_ ("Announcing…"));
  else if (g_str_equal (state, "failed"))
    /* Translators: %s says why, in the hub's words */
    text = g_strdup_printf (_ ("Not announced: %s"), reason);
  else if (discovery == NULL)
    /* The hub did not say (it sent no Discovery): nothing is known. */
    text = g_strdup (_ ("Unknown: the hub does not say"));
  else
    text = g_strdup (_ ("Not announced: only this computer can reach the hub"));
  adw_action_row_set_subtitle (self->lan_row, text);
}

static void
update (PrdAdminOverviewPage *self)
{
  g_autofree char *jobs = NULL;
  g_autofree char *events = NULL;
  g_autofree char *in = NULL;
  g_autofree char *out = NULL;

  if (self->proxy == NULL)
    return;
  gtk_label_set_text (self->address_label, prd_dbus_hub1_get_listen_uri (self->proxy));
  gtk_label_set_text (self->version_label, prd_dbus_hub1_get_version (self->proxy));
  set_number (self->connections_label, prd_dbus_hub1_get_connections (self->proxy));
  set_number (self->users_label, prd_dbus_hub1_get_joined_users (self->proxy));
  set_number (self->prds_label, prd_dbus_hub1_get_open_prds (self->proxy));
  /* Translators: AI jobs: "2 running, 1 queued" */
  jobs =
      g_strdup_printf (_ ("%u running, %u queued"), prd_dbus_hub1_get_ai_jobs_running (self->proxy),
                       prd_dbus_hub1_get_ai_jobs_queued (self->proxy));
  gtk_label_set_text (self->jobs_label, jobs);
  in = g_strdup_printf ("%" G_GUINT64_FORMAT, prd_dbus_hub1_get_events_in (self->proxy));
  out = g_strdup_printf ("%" G_GUINT64_FORMAT, prd_dbus_hub1_get_events_out (self->proxy));
  /* Translators: Socket.IO events: "1520 in, 3044 out" */
  events = g_strdup_printf (_ ("%s in, %s out"), in, out);
  gtk_label_set_text (self->events_label, events);
  update_uptime (self);
  update_lan (self);
}

static void
on_properties_changed (GDBusProxy *proxy, GVariant *changed, GStrv invalidated, gpointer user_data)
{
  update (PRD_ADMIN_OVERVIEW_PAGE (user_data));
}

/**
 * prd_admin_overview_page_sample:
 *
 * Adds the current values to the charts (done every second while a hub
 * runs).
 */
void
prd_admin_overview_page_sample (PrdAdminOverviewPage *self)
{
  gint64 now = g_get_monotonic_time ();
  guint64 in, out;
  double seconds, in_rate = 0.0, out_rate = 0.0;

  g_return_if_fail (PRD_IS_ADMIN_OVERVIEW_PAGE (self));

  if (self->proxy == NULL)
    return;
  in = prd_dbus_hub1_get_events_in (self->proxy);
  out = prd_dbus_hub1_get_events_out (self->proxy);
  seconds = (double) (now - self->last_time) / G_USEC_PER_SEC;
  if (self->have_last && seconds > 0.0)
    {
      in_rate = (double) (in - MIN (in, self->last_in)) / seconds;
      out_rate = (double) (out - MIN (out, self->last_out)) / seconds;
    }
  self->have_last = TRUE;
  self->last_in = in;
  self->last_out = out;
  self->last_time = now;

  prd_admin_chart_push (self->connections_chart, prd_dbus_hub1_get_connections (self->proxy), 0);
  prd_admin_chart_push (self->events_chart, in_rate, out_rate);
  prd_admin_chart_push (self->jobs_chart, prd_dbus_hub1_get_ai_jobs_running (self->proxy),
                        prd_dbus_hub1_get_ai_jobs_queued (self->proxy));
  update_uptime (self);
}

static gboolean
on_sample (gpointer user_data)
{
  prd_admin_overview_page_sample (PRD_ADMIN_OVERVIEW_PAGE (user_data));
  return G_SOURCE_CONTINUE;
}

static void
prd_admin_overview_page_dispose (GObject *object)
{
  PrdAdminOverviewPage *self = PRD_ADMIN_OVERVIEW_PAGE (object);

  prd_admin_overview_page_set_proxy (self, NULL);

  G_OBJECT_CLASS (prd_admin_overview_page_parent_class)->dispose (object);
}

static void
prd_admin_overview_page_class_init (PrdAdminOverviewPageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = prd_admin_overview_page_dispose;

  g_type_ensure (PRD_TYPE_ADMIN_CHART);
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/org/prdtool/Hub/Admin/prd-admin-overview-page.ui");
  gtk_widget_class_bind_template_child (widget_class, PrdAdminOverviewPage, address_label);
  gtk_widget_class_bind_template_child (widget_class, PrdAdminOverviewPage, version_label);
  gtk_widget_class_bind_template_child (widget_class, PrdAdminOverviewPage, uptime_label);
  gtk_widget_class_bind_template_child (widget_class, PrdAdminOverviewPage, uptime_row);
  gtk_widget_class_bind_template_child (widget_class, PrdAdminOverviewPage, lan_row);
  gtk_widget_class_bind_template_child (widget_class, PrdAdminOverviewPage, connections_label);
  gtk_widget_class_bind_template_child (widget_class, PrdAdminOverviewPage, users_label);
  gtk_widget_class_bind_template_child (widget_class, PrdAdminOverviewPage, prds_label);
  gtk_widget_class_bind_template_child (widget_class, PrdAdminOverviewPage, jobs_label);
  gtk_widget_class_bind_template_child (widget_class, PrdAdminOverviewPage, events_label);
  gtk_widget_class_bind_template_child (widget_class, PrdAdminOverviewPage, connections_chart);
  gtk_widget_class_bind_template_child (widget_class, PrdAdminOverviewPage, events_chart);
  gtk_widget_class_bind_template_child (widget_class, PrdAdminOverviewPage, jobs_chart);
}

static void
prd_admin_overview_page_init (PrdAdminOverviewPage *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  prd_admin_chart_set_labels (self->connections_chart, _ ("Connections"), NULL);
  /* Translators: chart legends: events received and sent */
  prd_admin_chart_set_labels (self->events_chart, C_ ("events", "In"), C_ ("events", "Out"));
  /* Translators: chart legends: AI jobs running and queued */
  prd_admin_chart_set_labels (self->jobs_chart, C_ ("jobs", "Running"), C_ ("jobs", "Queued"));
}

/**
 * prd_admin_overview_page_set_proxy:
 * @proxy: (nullable): the hub, %NULL when none runs
 *
 * A new hub starts new charts.
 */
void
prd_admin_overview_page_set_proxy (PrdAdminOverviewPage *self, PrdDbusHub1 *proxy)
{
  g_return_if_fail (PRD_IS_ADMIN_OVERVIEW_PAGE (self));

  if (self->proxy == proxy)
    return;
  g_clear_handle_id (&self->sample_id, g_source_remove);
  if (self->proxy != NULL)
    g_signal_handlers_disconnect_by_data (self->proxy, self);
  g_set_object (&self->proxy, proxy);
  self->have_last = FALSE;
  if (proxy == NULL)
    return;
  prd_admin_chart_clear (self->connections_chart);
  prd_admin_chart_clear (self->events_chart);
  prd_admin_chart_clear (self->jobs_chart);
  g_signal_connect (proxy, "g-properties-changed", G_CALLBACK (on_properties_changed), self);
  update (self);
  prd_admin_overview_page_sample (self);
  self->sample_id = g_timeout_add_seconds (1, on_sample, self);
}

PrdAdminChart *
prd_admin_overview_page_get_chart (PrdAdminOverviewPage *self, PrdAdminChartKind kind)
{
  g_return_val_if_fail (PRD_IS_ADMIN_OVERVIEW_PAGE (self), NULL);

  switch (kind)
    {
      case PRD_ADMIN_CHART_CONNECTIONS:
        return self->connections_chart;
      case PRD_ADMIN_CHART_EVENTS:
        return self->events_chart;
      case PRD_ADMIN_CHART_AI_JOBS:
        return self->jobs_chart;
      default:
        g_return_val_if_reached (NULL);
    }
}

/**
 * prd_admin_overview_page_get_value:
 * @name: "address", "version", "uptime", "lan", "connections", "users",
 *   "prds", "jobs" or "events"
 *
 * Returns: (transfer none): the text the page shows for @name
 */
const char *
prd_admin_overview_page_get_value (PrdAdminOverviewPage *self, const char *name)
{
  const struct
  {
    const char *name;
    GtkLabel *label;
  } values[] = {
    { "address", self->address_label }, { "version", self->version_label },
    { "uptime", self->uptime_label },   { "connections", self->connections_label },
    { "users", self->users_label },     { "prds", self->prds_label },
    { "jobs", self->jobs_label },       { "events", self->events_label },
  };

  g_return_val_if_fail (PRD_IS_ADMIN_OVERVIEW_PAGE (self), NULL);

  if (g_str_equal (name, "lan"))
    return adw_action_row_get_subtitle (self->lan_row);
  for (guint i = 0; i < G_N_ELEMENTS (values); i++)
    if (g_str_equal (values[i].name, name))
      return gtk_label_get_text (values[i].label);
  g_return_val_if_reached (NULL);
}
