/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * PrdAdminChart: a line chart of the last ten minutes (one sample a second)
 * for one or two series, drawn with GtkSnapshot: the grid and legend as
 * snapshot nodes, the lines through gtk_snapshot_append_cairo(). The newest
 * sample is at the right edge; the scale is the next round number above
 * the largest visible value.
 *
 * Its accessible label tells the latest values, since the picture alone
 * says nothing to a screen reader.
 */
#define G_LOG_DOMAIN "prd-admin"

#include "config.h"

#include <math.h>

#include <glib/gi18n.h>

#include "prd-admin-chart.h"

struct _PrdAdminChart
{
  GtkWidget parent_instance;

  char *labels[PRD_ADMIN_CHART_MAX_SERIES]; /* (owned) (nullable): NULL: no such series */
  double samples[PRD_ADMIN_CHART_MAX_SERIES][PRD_ADMIN_CHART_SAMPLES];
  guint head; /* where the next sample goes */
  guint count;
};

G_DEFINE_FINAL_TYPE (PrdAdminChart, prd_admin_chart, GTK_TYPE_WIDGET)

/* The series' colours: GNOME palette blue 3 and orange 3. */
static const GdkRGBA series_colors[PRD_ADMIN_CHART_MAX_SERIES] = {
  { 0.208f, 0.518f, 0.894f, 1.0f },
  { 0.902f, 0.380f, 0.000f, 1.0f },
};

static guint
n_series (PrdAdminChart *self)
{
  return self->labels[1] != NULL ? 2 : 1;
}

/* The smallest of 1, 2, 5, 10, 20, 50… that is at least @value. */
static double
nice_ceiling (double value)
{
  double magnitude;

  if (value <= 1.0)
    return 1.0;
  magnitude = pow (10.0, floor (log10 (value)));
  if (value <= magnitude)
    return magnitude;
  if (value <= 2.0 * magnitude)
    return 2.0 * magnitude;
  if (value <= 5.0 * magnitude)
    return 5.0 * magnitude;
  return 10.0 * magnitude;
}

double
prd_admin_chart_get_sample (PrdAdminChart *self, guint series, guint age)
{
  g_return_val_if_fail (PRD_IS_ADMIN_CHART (self), 0.0);
  g_return_val_if_fail (series < PRD_ADMIN_CHART_MAX_SERIES, 0.0);
  g_return_val_if_fail (age < self->count, 0.0);

  return self
      ->samples[series][(self->head + PRD_ADMIN_CHART_SAMPLES - 1 - age) % PRD_ADMIN_CHART_SAMPLES];
}

static void
append_text (GtkSnapshot *snapshot, PangoLayout *layout, float x, float y, const GdkRGBA *color)
{
  gtk_snapshot_save (snapshot);
  gtk_snapshot_translate (snapshot, &GRAPHENE_POINT_INIT (x, y));
  gtk_snapshot_append_layout (snapshot, layout, color);
  gtk_snapshot_restore (snapshot);
}

static void
prd_admin_chart_snapshot (GtkWidget *widget, GtkSnapshot *snapshot)
{
  PrdAdminChart *self = PRD_ADMIN_CHART (widget);
  float width = (float) gtk_widget_get_width (widget);
  float height = (float) gtk_widget_get_height (widget);
  float top = 8.0f, bottom = height - 8.0f;
  float plot_height = bottom - top;
  double maximum = 0.0, scale;
  GdkRGBA fg, grid;
  g_autoptr (PangoLayout) layout = NULL;
  g_autofree char *scale_text = NULL;
  int text_width, text_height;
  float legend_x;

  if (width < 2.0f || plot_height < 2.0f)
    return;
  gtk_style_context_get_color (gtk_widget_get_style_context (widget), &fg);
  grid = fg;
  grid.alpha = 0.12f;

  /* Grid: the top, the middle, the base line. */
  for (guint i = 0; i < 3; i++)
    {
      float y = top + plot_height * (float) i / 2.0f;

      gtk_snapshot_append_color (snapshot, &grid, &GRAPHENE_RECT_INIT (0, floorf (y), width, 1));
    }

  for (guint s = 0; s < n_series (self); s++)
    for (guint age = 0; age < self->count; age++)
      maximum = MAX (maximum, prd_admin_chart_get_sample (self, s, age));
  scale = nice_ceiling (maximum);

  if (self->count > 0)
    {
      cairo_t *cr = gtk_snapshot_append_cairo (snapshot, &GRAPHENE_RECT_INIT (0, 0, width, height));
      double step = width / (double) (PRD_ADMIN_CHART_SAMPLES - 1);

      cairo_set_line_width (cr, 2.0);
      cairo_set_line_join (cr, CAIRO_LINE_JOIN_ROUND);
      for (guint s = n_series (self); s > 0; s--)
        {
          const GdkRGBA *color = &series_colors[s - 1];

          for (guint age = 0; age < self->count; age++)
            {
              double x = width - step * age;
              double y =
                  bottom - plot_height * prd_admin_chart_get_sample (self, s - 1, age) / scale;

              if (age == 0)
                cairo_move_to (cr, x, y);
              else
                cairo_line_to (cr, x, y);
            }
          /* The first series gets a light area under its line. */
          if (s == 1)
            {
              cairo_path_t *line = cairo_copy_path (cr);

              cairo_line_to (cr, width - step * (self->count - 1), bottom);
              cairo_line_to (cr, width, bottom);
              cairo_close_path (cr);
              cairo_set_source_rgba (cr, color->red, color->green, color->blue, 0.15);
              cairo_fill (cr);
              cairo_append_path (cr, line);
              cairo_path_destroy (line);
            }
          gdk_cairo_set_source_rgba (cr, color);
          cairo_stroke (cr);
        }
      cairo_destroy (cr);
    }

  /* The scale at the top left, the legend at the top right. */
  scale_text = g_strdup_printf ("%.0f", scale);
  layout = gtk_widget_create_pango_layout (widget, scale_text);
  append_text (snapshot, layout, 4.0f, top + 2.0f, &fg);
  legend_x = width - 4.0f;
  for (guint s = n_series (self); s > 0; s--)
    {
      pango_layout_set_text (layout, self->labels[s - 1] != NULL ? self->labels[s - 1] : "", -1);
      pango_layout_get_pixel_size (layout, &text_width, &text_height);
      legend_x -= (float) text_width;
      append_text (snapshot, layout, legend_x, top + 2.0f, &series_colors[s - 1]);
      legend_x -= 12.0f;
    }
}

static void
prd_admin_chart_measure (GtkWidget *widget,
                         GtkOrientation orientation,
                         int for_size,
                         int *minimum,
                         int *natural,
                         int *minimum_baseline,
                         int *natural_baseline)
{
  if (orientation == GTK_ORIENTATION_HORIZONTAL)
    {
      *minimum = 160;
      *natural = 280;
    }
  else
    {
      *minimum = 80;
      *natural = 120;
    }
}

static void
prd_admin_chart_finalize (GObject *object)
{
  PrdAdminChart *self = PRD_ADMIN_CHART (object);

  for (guint i = 0; i < PRD_ADMIN_CHART_MAX_SERIES; i++)
    g_clear_pointer (&self->labels[i], g_free);

  G_OBJECT_CLASS (prd_admin_chart_parent_class)->finalize (object);
}

static void
prd_admin_chart_class_init (PrdAdminChartClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->finalize = prd_admin_chart_finalize;
  widget_class->snapshot = prd_admin_chart_snapshot;
  widget_class->measure = prd_admin_chart_measure;
  gtk_widget_class_set_css_name (widget_class, "chart");
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_IMG);
}

static void
prd_admin_chart_init (PrdAdminChart *self)
{
}

GtkWidget *
prd_admin_chart_new (void)
{
  return g_object_new (PRD_TYPE_ADMIN_CHART, NULL);
}

/**
 * prd_admin_chart_set_labels:
 * @second: (nullable): %NULL for a chart of one series
 */
void
prd_admin_chart_set_labels (PrdAdminChart *self, const char *first, const char *second)
{
  g_return_if_fail (PRD_IS_ADMIN_CHART (self));
  g_return_if_fail (first != NULL);

  g_free (self->labels[0]);
  self->labels[0] = g_strdup (first);
  g_free (self->labels[1]);
  self->labels[1] = g_strdup (second);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

/**
 * prd_admin_chart_push:
 * @second: ignored for a chart of one series
 *
 * Adds the newest sample; the oldest goes once there are ten minutes.
 */
void
prd_admin_chart_push (PrdAdminChart *self, double first, double second)
{
  g_autofree char *label = NULL;

  g_return_if_fail (PRD_IS_ADMIN_CHART (self));

  self->samples[0][self->head] = MAX (first, 0.0);
  self->samples[1][self->head] = MAX (second, 0.0);
  self->head = (self->head + 1) % PRD_ADMIN_CHART_SAMPLES;
  self->count = MIN (self->count + 1, PRD_ADMIN_CHART_SAMPLES);

  if (self->labels[1] != NULL)
    /* Translators: a chart's accessible label: "in: 3, out: 12", the last second's values */
    label =
        g_strdup_printf (_ ("%s: %.0f, %s: %.0f"), self->labels[0], first, self->labels[1], second);
  else
    label = g_strdup_printf (_ ("%s: %.0f"), self->labels[0] != NULL ? self->labels[0] : "", first);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_LABEL, label, -1);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

void
prd_admin_chart_clear (PrdAdminChart *self)
{
  g_return_if_fail (PRD_IS_ADMIN_CHART (self));

  self->head = 0;
  self->count = 0;
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

guint
prd_admin_chart_get_n_samples (PrdAdminChart *self)
{
  g_return_val_if_fail (PRD_IS_ADMIN_CHART (self), 0);

  return self->count;
}
