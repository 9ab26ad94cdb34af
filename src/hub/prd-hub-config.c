/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The hub's configuration, by section. A key file sets what it names;
 * command-line options override after it, through the same per-key path
 * (prd_hub_config_set()). Unknown groups and keys are errors rather than
 * being ignored, so that a typo does not silently leave a default in place;
 * so are a key given twice and a localized key (`key[de]`), which GKeyFile
 * would otherwise hide (check_lines()).
 *
 * This file knows no key. Each group is a #PrdHubConfigSection described by
 * the code that owns it, which parses and validates its own keys:
 *
 *   [server] [engine] [auth]   prd-hub-config-server.c  (the server core)
 *   [rate-limit]               prd-hub-config-rate-limit.c (with [rate-limit.events])
 *   [collab]                   prd-hub-config-collab.c  (collaboration and rooms)
 *   [ai]                       prd-hub-config-ai.c      (the AI feature)
 *   [log]                      prd-hub-config-log.c     (the program's log level)
 *   [metrics]                  prd-hub-config-metrics.c (GET /metrics)
 *
 * The descriptors live in small files beside this one rather than in the
 * features' own files because the configuration sits in the prd-auth
 * library, below the hub features (prdhub's `token` and `secret` commands
 * load it without a hub); a feature owns its prd-hub-config-<feature>.[ch]
 * by name. A new group (say [jira]) is one new prd-hub-config-jira.[ch] and
 * one line in `sections` below; no other group's code changes.
 *
 * Relative paths in a file are taken relative to that file's folder. A file
 * is read no further than PRD_HUB_CONFIG_MAX_FILE_SIZE bytes plus one, and
 * only a regular file is read at all: a FIFO or a device (`/dev/zero`,
 * `/dev/stdin` on a terminal) would hold the start up or fill the memory.
 */
#define G_LOG_DOMAIN "prd-hub-config"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gstdio.h>

#include "prd-error.h"

#include "prd-hub-config-ai.h"
#include "prd-hub-config-collab.h"
#include "prd-hub-config-log.h"
#include "prd-hub-config-integrations.h"
#include "prd-hub-config-metrics.h"
#include "prd-hub-config-rate-limit.h"
#include "prd-hub-config-server.h"

#include "prd-hub-config.h"

/* Every known group, in the order their cross-key checks run. */
static const PrdHubConfigSection *const sections[] = {
  &prd_hub_server_config_section,       &prd_hub_engine_config_section,
  &prd_hub_auth_config_section,         &prd_hub_collab_config_section,
  &prd_hub_ai_config_section,           &prd_hub_rate_limit_config_section,
  &prd_hub_log_config_section,          &prd_hub_metrics_config_section,
  &prd_hub_integrations_config_section,
};

struct _PrdHubConfig
{
  gpointer settings[G_N_ELEMENTS (sections)]; /* (owned) one per section */
  char *file;                                 /* (owned) (nullable) the key file loaded */
};

G_DEFINE_BOXED_TYPE (PrdHubConfig, prd_hub_config, prd_hub_config_ref, prd_hub_config_unref)

static void
config_clear (gpointer data)
{
  PrdHubConfig *self = data;

  for (guint i = 0; i < G_N_ELEMENTS (sections); i++)
    {
      if (sections[i]->clear != NULL)
        sections[i]->clear (self->settings[i]);
      g_free (self->settings[i]);
    }
  g_free (self->file);
}

/**
 * prd_hub_config_new:
 *
 * Every section's defaults (see each section's header).
 *
 * Returns: (transfer full): a new configuration
 */
PrdHubConfig *
prd_hub_config_new (void)
{
  PrdHubConfig *self = g_rc_box_new0 (PrdHubConfig);

  for (guint i = 0; i < G_N_ELEMENTS (sections); i++)
    {
      self->settings[i] = g_malloc0 (sections[i]->settings_size);
      sections[i]->init (self->settings[i]);
    }
  return self;
}

PrdHubConfig *
prd_hub_config_ref (PrdHubConfig *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  return g_rc_box_acquire (self);
}

void
prd_hub_config_unref (PrdHubConfig *self)
{
  g_return_if_fail (self != NULL);

  g_rc_box_release_full (self, config_clear);
}

/* The index of the section that owns @group, or -1. */
static int
find_section (const char *group)
{
  for (guint i = 0; i < G_N_ELEMENTS (sections); i++)
    {
      if (g_str_equal (sections[i]->name, group))
        return (int) i;
      if (sections[i]->extra_groups != NULL &&
          g_strv_contains ((const char *const *) sections[i]->extra_groups, group))
        return (int) i;
    }
  return -1;
}

static gboolean
is_list_key (const PrdHubConfigSection *section, const char *key)
{
  return section->set_list != NULL && section->list_keys != NULL &&
         g_strv_contains (section->list_keys, key);
}

/**
 * prd_hub_config_get_section:
 * @section: a known section, e.g. `&prd_hub_ai_config_section`
 *
 * Each section's header has a typed wrapper (prd_hub_config_get_ai() and
 * so on).
 *
 * Returns: (transfer none): the settings of @section
 */
gpointer
prd_hub_config_get_section (PrdHubConfig *self, const PrdHubConfigSection *section)
{
  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail (section != NULL, NULL);

  for (guint i = 0; i < G_N_ELEMENTS (sections); i++)
    if (sections[i] == section)
      return self->settings[i];
  g_return_val_if_reached (NULL);
}

/**
 * prd_hub_config_set:
 * @group: a group, e.g. `ai`
 * @key: one of its keys, e.g. `base-url`
 * @value: the value, taken as given (no key-file escapes, no stripping);
 *   for a list key, a list of this one value
 *
 * Sets one key the way the key file would, but with relative paths taken
 * relative to the current folder: what command-line options go through.
 * Unknown groups and keys are errors that name them.
 */
gboolean
prd_hub_config_set (
    PrdHubConfig *self, const char *group, const char *key, const char *value, GError **error)
{
  const PrdHubConfigSection *section;
  int index;

  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (group != NULL, FALSE);
  g_return_val_if_fail (key != NULL, FALSE);
  g_return_val_if_fail (value != NULL, FALSE);

  index = find_section (group);
  if (index < 0)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG, "Unknown group [%s]", group);
      return FALSE;
    }
  section = sections[index];
  if (is_list_key (section, key))
    {
      const char *const values[] = { value, NULL };

      return section->set_list (self->settings[index], key, values, NULL, error);
    }
  return section->set (self->settings[index], group, key, value, NULL, error);
}

/**
 * prd_hub_config_set_list:
 * @values: (nullable) (array zero-terminated=1): the list, taken as given;
 *   %NULL or empty for none
 *
 * Like prd_hub_config_set() for a list key (`--cors-origins`).
 */
gboolean
prd_hub_config_set_list (PrdHubConfig *self,
                         const char *group,
                         const char *key,
                         const char *const *values,
                         GError **error)
{
  int index;

  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (group != NULL, FALSE);
  g_return_val_if_fail (key != NULL, FALSE);

  index = find_section (group);
  if (index < 0)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG, "Unknown group [%s]", group);
      return FALSE;
    }
  if (!is_list_key (sections[index], key))
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG, "[%s] %s is not a list", group, key);
      return FALSE;
    }
  return sections[index]->set_list (self->settings[index], key, values, NULL, error);
}

/**
 * prd_hub_config_validate:
 *
 * Runs every section's checks of what no single key can check (TLS
 * certificate and key come together and exist, [ai] base-url and model come
 * together, every mapped event class has a limit, …), then those between
 * sections ([collab] sizes against [engine] buffers, …). Call it once every
 * source has been applied.
 *
 * Like the errors of single keys, these name the key file when one was
 * loaded (`FILE: [ai] base-url is set but model is not`): whatever the
 * command line set over it, the file is where the keys are to be fixed.
 */
gboolean
prd_hub_config_validate (PrdHubConfig *self, GError **error)
{
  g_autoptr (GError) local_error = NULL;
  gboolean valid = TRUE;

  g_return_val_if_fail (self != NULL, FALSE);

  for (guint i = 0; valid && i < G_N_ELEMENTS (sections); i++)
    if (sections[i]->validate != NULL && !sections[i]->validate (self->settings[i], &local_error))
      valid = FALSE;
  for (guint i = 0; valid && i < G_N_ELEMENTS (sections); i++)
    if (sections[i]->validate_with != NULL &&
        !sections[i]->validate_with (self->settings[i], self, &local_error))
      valid = FALSE;
  if (valid)
    return TRUE;
  if (self->file == NULL)
    g_propagate_error (error, g_steal_pointer (&local_error));
  else
    g_set_error (error, local_error->domain, local_error->code, "%s: %s", self->file,
                 local_error->message);
  return FALSE;
}

static gboolean
load_key (PrdHubConfig *self,
          guint index,
          GKeyFile *file,
          const char *group,
          const char *key,
          const char *base_dir,
          GError **error)
{
  const PrdHubConfigSection *section = sections[index];
  g_autoptr (GError) local_error = NULL;

  if (is_list_key (section, key))
    {
      g_auto (GStrv) list = g_key_file_get_string_list (file, group, key, NULL, &local_error);

      if (list == NULL && local_error != NULL)
        {
          g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG, "[%s] %s: %s", group, key,
                       local_error->message);
          return FALSE;
        }
      for (guint i = 0; list != NULL && list[i] != NULL; i++)
        g_strstrip (list[i]);
      return section->set_list (self->settings[index], key, (const char *const *) list, base_dir,
                                error);
    }
  else
    {
      g_autofree char *value = g_key_file_get_string (file, group, key, &local_error);

      if (value == NULL)
        {
          g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG, "[%s] %s: %s", group, key,
                       local_error->message);
          return FALSE;
        }
      return section->set (self->settings[index], group, key, g_strstrip (value), base_dir, error);
    }
}

static gboolean
load_key_file (PrdHubConfig *self, GKeyFile *file, const char *base_dir, GError **error)
{
  g_auto (GStrv) groups = g_key_file_get_groups (file, NULL);

  for (guint g = 0; groups[g] != NULL; g++)
    {
      const char *group = groups[g];
      g_auto (GStrv) keys = g_key_file_get_keys (file, group, NULL, NULL);
      int index = find_section (group);

      if (index < 0)
        {
          g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG, "Unknown group [%s]", group);
          return FALSE;
        }
      for (guint k = 0; keys != NULL && keys[k] != NULL; k++)
        if (!load_key (self, (guint) index, file, group, keys[k], base_dir, error))
          return FALSE;
    }
  return TRUE;
}

/* Reads a key file's lines as GKeyFile does. */
typedef struct
{
  const char *at;
  const char *end;
  guint number; /* of the line last read, from 1 */
} LineReader;

/* The next line, [*line, *stop): its `\r` before its `\n` (only there, as
 * GKeyFile: a last line without `\n` keeps a `\r`) and its leading
 * whitespace dropped. FALSE at the end. */
static gboolean
next_line (LineReader *reader, const char **line, const char **stop)
{
  const char *eol;

  if (reader->at >= reader->end)
    return FALSE;
  eol = memchr (reader->at, '\n', (gsize) (reader->end - reader->at));
  *line = reader->at;
  *stop = eol != NULL ? eol : reader->end;
  reader->at = eol != NULL ? eol + 1 : reader->end;
  reader->number++;
  if (eol != NULL && *stop > *line && (*stop)[-1] == '\r')
    (*stop)--;
  while (*line < *stop && g_ascii_isspace (**line))
    (*line)++;
  return TRUE;
}

/* What GKeyFile hides: a key given twice in one group (also under a second
 * header of the group, which GKeyFile merges) keeps only its last value, and
 * a localized key (`key[de]`) is never read by the sections. Both are refused,
 * naming the key and its lines. Lines as GKeyFile reads them: `#` and empty
 * lines comments, `[group]` headers, and `key = value` with the key's
 * trailing whitespace dropped. */
static gboolean
check_lines (const char *data, gsize len, GError **error)
{
  g_autoptr (GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autofree char *group = NULL;
  LineReader reader = { data, data + len, 0 };
  const char *line, *stop;

  while (next_line (&reader, &line, &stop))
    {
      const char *eq;
      g_autofree char *key = NULL;
      g_autofree char *id = NULL;
      gpointer first;

      if (line == stop || *line == '#')
        continue;
      if (*line == '[')
        {
          const char *close = stop - 1;

          while (close > line && *close != ']')
            close--;
          g_free (group);
          group = g_strndup (line + 1, (gsize) MAX (close - line - 1, 0));
          continue;
        }
      eq = memchr (line, '=', (gsize) (stop - line));
      if (eq == NULL || group == NULL)
        continue;
      key = g_strndup (line, (gsize) (eq - line));
      g_strchomp (key);
      if (strchr (key, '[') != NULL)
        {
          g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG,
                       "[%s] %s (line %u): localized keys (KEY[LOCALE]) are not supported", group,
                       key, reader.number);
          return FALSE;
        }
      id = g_strconcat (group, "\x1f", key, NULL);
      if (g_hash_table_lookup_extended (seen, id, NULL, &first))
        {
          g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG,
                       "[%s] %s is set twice (lines %u and %u); give it once", group, key,
                       GPOINTER_TO_UINT (first), reader.number);
          return FALSE;
        }
      g_hash_table_insert (seen, g_steal_pointer (&id), GUINT_TO_POINTER (reader.number));
    }
  return TRUE;
}

/* GKeyFile's message about a line it cannot read quotes the line whole, and
 * the line may hold a secret (`base-url: https://user:password@…` meant as
 * `base-url = …`). Lines are classified first as GKeyFile does (a comment, a
 * `[group]` header with only spaces or tabs after its `]`, or `key = value`
 * with a key), and a line that is none of them is named by its number. */
static gboolean
check_syntax (const char *data, gsize len, GError **error)
{
  LineReader reader = { data, data + len, 0 };
  const char *line, *stop;

  while (next_line (&reader, &line, &stop))
    {
      const char *eq;

      if (line == stop || *line == '#')
        continue;
      eq = memchr (line, '=', (gsize) (stop - line));
      if (*line == '[')
        {
          const char *close = memchr (line, ']', (gsize) (stop - line));
          const char *p = close != NULL ? close + 1 : stop;

          while (p < stop && (*p == ' ' || *p == '\t'))
            p++;
          if (close != NULL && p == stop)
            continue;
          if (eq == NULL)
            {
              g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG,
                           "line %u: a [group] header ends with ] and nothing after it",
                           reader.number);
              return FALSE;
            }
        }
      if (eq == NULL)
        {
          g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG,
                       "line %u is neither KEY = VALUE, a [group] header nor a # comment "
                       "(the line is not quoted here: it may hold a secret)",
                       reader.number);
          return FALSE;
        }
      if (eq == line)
        {
          g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG,
                       "line %u: no key before its =", reader.number);
          return FALSE;
        }
    }
  return TRUE;
}

/* The key file in @data, which must be UTF-8 text: every message about it
 * quotes groups, keys and values, never a whole line. */
static gboolean
parse_text (GKeyFile *file, const char *data, gsize len, GError **error)
{
  const char *end;

  if (!g_utf8_validate_len (data, len, &end))
    {
      guint line = 1;

      for (const char *p = data; p < end; p++)
        line += *p == '\n';
      g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG, "line %u is not UTF-8 text", line);
      return FALSE;
    }
  return check_syntax (data, len, error) &&
         g_key_file_load_from_data (file, data, len, G_KEY_FILE_NONE, error) &&
         check_lines (data, len, error);
}

/**
 * prd_hub_config_load_data:
 * @data: key-file text
 * @len: length of @data, or -1 if nul-terminated
 *
 * Applies the key file over the current settings (relative paths are taken
 * relative to the current folder). On error the configuration may be
 * partially updated; callers discard it. Call prd_hub_config_validate()
 * once every source has been applied.
 */
gboolean
prd_hub_config_load_data (PrdHubConfig *self, const char *data, gssize len, GError **error)
{
  g_autoptr (GKeyFile) file = g_key_file_new ();
  g_autoptr (GError) local_error = NULL;

  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (data != NULL, FALSE);

  if (!parse_text (file, data, len < 0 ? strlen (data) : (gsize) len, &local_error))
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG, "Invalid configuration: %s",
                   local_error->message);
      return FALSE;
    }
  return load_key_file (self, file, NULL, error);
}

/* Reads @path whole, refusing anything but a regular file and reading no
 * more than one byte past PRD_HUB_CONFIG_MAX_FILE_SIZE. The file is opened
 * without blocking, so that a FIFO with no writer is refused rather than
 * waited for. */
static gboolean
read_config_file (const char *path, char **out, gsize *out_len, GError **error)
{
  g_autoptr (GByteArray) data = g_byte_array_new ();
  struct stat st;
  int fd;

  fd = g_open (path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY, 0);
  if (fd < 0)
    {
      int saved_errno = errno;

      g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG, "%s: %s", path, g_strerror (saved_errno));
      return FALSE;
    }
  if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode))
    {
      close (fd);
      g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG,
                   "%s: not a regular file (a configuration is read from a file, not from a "
                   "pipe or a device)",
                   path);
      return FALSE;
    }
  while (data->len <= PRD_HUB_CONFIG_MAX_FILE_SIZE)
    {
      guint8 buffer[65536];
      ssize_t n =
          read (fd, buffer, MIN (sizeof buffer, PRD_HUB_CONFIG_MAX_FILE_SIZE + 1 - data->len));

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          int saved_errno = errno;

          close (fd);
          g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG, "%s: %s", path,
                       g_strerror (saved_errno));
          return FALSE;
        }
      if (n == 0)
        break;
      g_byte_array_append (data, buffer, (guint) n);
    }
  close (fd);
  if (data->len > PRD_HUB_CONFIG_MAX_FILE_SIZE)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG, "%s is larger than %u bytes", path,
                   (guint) PRD_HUB_CONFIG_MAX_FILE_SIZE);
      return FALSE;
    }
  *out_len = data->len;
  g_byte_array_append (data, (const guint8 *) "", 1);
  *out = (char *) g_byte_array_free (g_steal_pointer (&data), FALSE);
  return TRUE;
}

/**
 * prd_hub_config_load_file:
 * @path: a key file
 *
 * Like prd_hub_config_load_data(); relative paths are taken relative to the
 * folder of @path, and errors name the file.
 */
gboolean
prd_hub_config_load_file (PrdHubConfig *self, const char *path, GError **error)
{
  g_autoptr (GKeyFile) file = g_key_file_new ();
  g_autoptr (GError) local_error = NULL;
  g_autofree char *base_dir = NULL;
  g_autofree char *absolute = NULL;
  g_autofree char *contents = NULL;
  gsize len;

  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (path != NULL, FALSE);

  absolute = g_canonicalize_filename (path, NULL);
  base_dir = g_path_get_dirname (absolute);
  if (!read_config_file (path, &contents, &len, error))
    return FALSE;
  if (!parse_text (file, contents, len, &local_error) ||
      !load_key_file (self, file, base_dir, &local_error))
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG, "%s: %s", path, local_error->message);
      return FALSE;
    }
  g_free (self->file);
  self->file = g_strdup (path);
  return TRUE;
}

/* ---- helpers for sections ---- */

/**
 * prd_hub_config_parse_bool:
 * @value: `true` or `false`
 *
 * Returns: whether @value is one of them; the error names `[group] key`
 */
gboolean
prd_hub_config_parse_bool (
    const char *group, const char *key, const char *value, gboolean *out, GError **error)
{
  if (g_strcmp0 (value, "true") == 0 || g_strcmp0 (value, "false") == 0)
    {
      *out = g_str_equal (value, "true");
      return TRUE;
    }
  g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG, "[%s] %s: \"%s\" is neither true nor false",
               group, key, value);
  return FALSE;
}

/**
 * prd_hub_config_parse_uint:
 * @value: decimal text; surrounding whitespace is ignored
 *
 * Returns: whether @value is a whole number in [@min, @max]; the error
 *   names `[group] key`
 */
gboolean
prd_hub_config_parse_uint (const char *group,
                           const char *key,
                           const char *value,
                           guint64 min,
                           guint64 max,
                           guint64 *out,
                           GError **error)
{
  g_autofree char *copy = g_strstrip (g_strdup (value != NULL ? value : ""));

  if (!g_ascii_string_to_unsigned (copy, 10, min, max, out, NULL))
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG,
                   "[%s] %s: \"%s\" is not a whole number between %" G_GUINT64_FORMAT
                   " and %" G_GUINT64_FORMAT,
                   group, key, value, min, max);
      return FALSE;
    }
  return TRUE;
}

/**
 * prd_hub_config_parse_path:
 * @base_dir: (nullable): folder of relative paths (%NULL: the current one)
 * @out: (inout): replaced by the absolute path on success
 */
gboolean
prd_hub_config_parse_path (const char *group,
                           const char *key,
                           const char *value,
                           const char *base_dir,
                           char **out,
                           GError **error)
{
  if (value == NULL || *value == '\0')
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG, "[%s] %s: a path is required", group, key);
      return FALSE;
    }
  g_free (*out);
  *out = g_canonicalize_filename (value, base_dir);
  return TRUE;
}

/**
 * prd_hub_config_set_unknown_key_error:
 *
 * What a section's set answers for a key it does not know.
 */
void
prd_hub_config_set_unknown_key_error (GError **error, const char *group, const char *key)
{
  g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG, "Unknown key \"%s\" in [%s]", key, group);
}
