/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

/**
 * PrdHubConfigSection:
 * @name: the key-file group, e.g. `ai`
 * @extra_groups: (nullable) (array zero-terminated=1): further groups the
 *   section owns, e.g. `rate-limit.events`
 * @settings_size: size of the section's settings struct
 * @init: fills zeroed settings with the defaults
 * @set: sets one key from its text (unescaped, and stripped when it comes
 *   from a file); relative paths are relative to @base_dir (%NULL: the current
 *   folder). Names the group and key in its errors; refuses unknown keys with
 *   prd_hub_config_set_unknown_key_error().
 * @list_keys: (nullable) (array zero-terminated=1): keys whose values are
 *   lists (`a;b;c` in a key file); they go to @set_list
 * @set_list: (nullable): sets a list key
 * @validate: (nullable): checks what no single key can, once every source
 *   has been applied
 * @validate_with: (nullable): checks the section's keys against other
 *   sections' (read through their getters), after every @validate
 * @clear: (nullable): frees what the settings own (not the struct itself)
 *
 * One group of the configuration, described by the code that owns it. The
 * parser knows no key: it finds the section of a group and hands it the
 * group's keys. Descriptors are static and listed once, in prd-hub-config.c.
 */
typedef struct _PrdHubConfigSection PrdHubConfigSection;

/**
 * PrdHubConfig:
 *
 * The hub's settings, one settings struct per section: defaults, then a key
 * file, then command-line overrides. Reference counted; treat a config handed
 * to a #PrdHub as read-only.
 */
typedef struct _PrdHubConfig PrdHubConfig;

struct _PrdHubConfigSection
{
  const char *name;
  const char *const *extra_groups;
  gsize settings_size;
  void (*init) (gpointer settings);
  gboolean (*set) (gpointer settings,
                   const char *group,
                   const char *key,
                   const char *value,
                   const char *base_dir,
                   GError **error);
  const char *const *list_keys;
  gboolean (*set_list) (gpointer settings,
                        const char *key,
                        const char *const *values,
                        const char *base_dir,
                        GError **error);
  gboolean (*validate) (gconstpointer settings, GError **error);
  gboolean (*validate_with) (gconstpointer settings, PrdHubConfig *config, GError **error);
  void (*clear) (gpointer settings);
};

/* The largest configuration file read, in bytes; one byte more is refused. */
#define PRD_HUB_CONFIG_MAX_FILE_SIZE (16 * 1024 * 1024)

#define PRD_TYPE_HUB_CONFIG (prd_hub_config_get_type ())

GType prd_hub_config_get_type (void) G_GNUC_CONST;
PrdHubConfig *prd_hub_config_new (void);
PrdHubConfig *prd_hub_config_ref (PrdHubConfig *self);
void prd_hub_config_unref (PrdHubConfig *self);

gboolean prd_hub_config_load_file (PrdHubConfig *self, const char *path, GError **error);
gboolean
prd_hub_config_load_data (PrdHubConfig *self, const char *data, gssize len, GError **error);
gboolean prd_hub_config_set (
    PrdHubConfig *self, const char *group, const char *key, const char *value, GError **error);
gboolean prd_hub_config_set_list (PrdHubConfig *self,
                                  const char *group,
                                  const char *key,
                                  const char *const *values,
                                  GError **error);
gboolean prd_hub_config_validate (PrdHubConfig *self, GError **error);
gpointer prd_hub_config_get_section (PrdHubConfig *self, const PrdHubConfigSection *section);

/* For sections */
gboolean prd_hub_config_parse_bool (
    const char *group, const char *key, const char *value, gboolean *out, GError **error);
gboolean prd_hub_config_parse_uint (const char *group,
                                    const char *key,
                                    const char *value,
                                    guint64 min,
                                    guint64 max,
                                    guint64 *out,
                                    GError **error);
gboolean prd_hub_config_parse_path (const char *group,
                                    const char *key,
                                    const char *value,
                                    const char *base_dir,
                                    char **out,
                                    GError **error);
void prd_hub_config_set_unknown_key_error (GError **error, const char *group, const char *key);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrdHubConfig, prd_hub_config_unref)

G_END_DECLS
