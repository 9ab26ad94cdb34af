/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * PrdAdminRecord: one row the hub listed over D-Bus (a session, an AI job,
 * an integration), an a{sv} dictionary kept as the hub sent it. List models
 * hold these; the column views read them by key.
 */
#define G_LOG_DOMAIN "prd-admin"

#include "config.h"

#include "prd-admin-record.h"

struct _PrdAdminRecord
{
  GObject parent_instance;

  GVariant *dict; /* (owned) a{sv} */
};

enum
{
  PROP_0,
  PROP_DICT,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

G_DEFINE_FINAL_TYPE (PrdAdminRecord, prd_admin_record, G_TYPE_OBJECT)

static void
prd_admin_record_finalize (GObject *object)
{
  PrdAdminRecord *self = PRD_ADMIN_RECORD (object);

  g_clear_pointer (&self->dict, g_variant_unref);

  G_OBJECT_CLASS (prd_admin_record_parent_class)->finalize (object);
}

static void
prd_admin_record_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  PrdAdminRecord *self = PRD_ADMIN_RECORD (object);

  switch (prop_id)
    {
      case PROP_DICT:
        g_value_set_variant (value, self->dict);
        break;
      default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
prd_admin_record_class_init (PrdAdminRecordClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = prd_admin_record_finalize;
  object_class->get_property = prd_admin_record_get_property;

  /**
   * PrdAdminRecord:dict:
   *
   * The row, as the hub sent it (a{sv}).
   */
  properties[PROP_DICT] =
      g_param_spec_variant ("dict", NULL, NULL, G_VARIANT_TYPE_VARDICT, NULL,
                            G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
prd_admin_record_init (PrdAdminRecord *self)
{
}

/**
 * prd_admin_record_new:
 * @dict: an a{sv} dictionary (a reference is taken; a floating one is sunk)
 *
 * Returns: (transfer full): a new #PrdAdminRecord
 */
PrdAdminRecord *
prd_admin_record_new (GVariant *dict)
{
  PrdAdminRecord *self;

  g_return_val_if_fail (dict != NULL, NULL);
  g_return_val_if_fail (g_variant_is_of_type (dict, G_VARIANT_TYPE_VARDICT), NULL);

  self = g_object_new (PRD_TYPE_ADMIN_RECORD, NULL);
  self->dict = g_variant_ref_sink (dict);
  return self;
}

GVariant *
prd_admin_record_get_dict (PrdAdminRecord *self)
{
  g_return_val_if_fail (PRD_IS_ADMIN_RECORD (self), NULL);

  return self->dict;
}

/**
 * prd_admin_record_set_dict:
 * @dict: the row's new state (a reference is taken; a floating one is sunk)
 */
void
prd_admin_record_set_dict (PrdAdminRecord *self, GVariant *dict)
{
  g_return_if_fail (PRD_IS_ADMIN_RECORD (self));
  g_return_if_fail (g_variant_is_of_type (dict, G_VARIANT_TYPE_VARDICT));

  g_variant_ref_sink (dict);
  if (g_variant_equal (dict, self->dict))
    {
      g_variant_unref (dict);
      return;
    }
  g_clear_pointer (&self->dict, g_variant_unref);
  self->dict = dict;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_DICT]);
}

/**
 * prd_admin_record_get_string:
 *
 * Returns: (transfer none): the string under @key, "" when there is none
 */
const char *
prd_admin_record_get_string (PrdAdminRecord *self, const char *key)
{
  const char *value = NULL;

  g_return_val_if_fail (PRD_IS_ADMIN_RECORD (self), "");

  if (!g_variant_lookup (self->dict, key, "&s", &value))
    return "";
  return value;
}

/**
 * prd_admin_record_get_int:
 *
 * Returns: the number under @key (x, t or u), 0 when there is none
 */
gint64
prd_admin_record_get_int (PrdAdminRecord *self, const char *key)
{
  g_autoptr (GVariant) value = NULL;

  g_return_val_if_fail (PRD_IS_ADMIN_RECORD (self), 0);

  value = g_variant_lookup_value (self->dict, key, NULL);
  if (value == NULL)
    return 0;
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_INT64))
    return g_variant_get_int64 (value);
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_UINT64))
    return (gint64) MIN (g_variant_get_uint64 (value), (guint64) G_MAXINT64);
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_UINT32))
    return g_variant_get_uint32 (value);
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_INT32))
    return g_variant_get_int32 (value);
  return 0;
}
