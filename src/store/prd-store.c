/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * PrdStore: the storage interface core talks to, so that a server database
 * can be added beside SQLite without touching core. The wrappers here
 * validate every argument that comes from a client (ids, titles, names,
 * sizes) before a backend sees it, so each backend gets the same checks and
 * nothing unvalidated reaches SQL or a file name. Backends complete with a
 * GTask whose source object is the store, which lets the `_finish` functions
 * be shared.
 */
#define G_LOG_DOMAIN "prd-store"

#include "config.h"

#include <errno.h>
#include <sys/random.h>

#include "prd-error.h"
#include "prd-identity-text.h"
#include "prd-store.h"

G_DEFINE_INTERFACE (PrdStore, prd_store, G_TYPE_OBJECT)

static void
prd_store_default_init (PrdStoreInterface *iface)
{
}

/* Boxed result types */

PrdStoreInfo *
prd_store_info_copy (const PrdStoreInfo *info)
{
  PrdStoreInfo *copy;

  g_return_val_if_fail (info != NULL, NULL);

  copy = g_new0 (PrdStoreInfo, 1);
  *copy = *info;
  copy->id = g_strdup (info->id);
  copy->org = g_strdup (info->org);
  copy->title = g_strdup (info->title);
  copy->version = g_strdup (info->version);
  copy->owner = g_strdup (info->owner);
  return copy;
}

void
prd_store_info_free (PrdStoreInfo *info)
{
  if (info == NULL)
    return;
  g_free (info->id);
  g_free (info->org);
  g_free (info->title);
  g_free (info->version);
  g_free (info->owner);
  g_free (info);
}

G_DEFINE_BOXED_TYPE (PrdStoreInfo, prd_store_info, prd_store_info_copy, prd_store_info_free)

PrdStoreUpdate *
prd_store_update_copy (const PrdStoreUpdate *update)
{
  PrdStoreUpdate *copy;

  g_return_val_if_fail (update != NULL, NULL);

  copy = g_new0 (PrdStoreUpdate, 1);
  *copy = *update;
  copy->user_id = g_strdup (update->user_id);
  copy->payload = update->payload != NULL ? g_bytes_ref (update->payload) : NULL;
  return copy;
}

void
prd_store_update_free (PrdStoreUpdate *update)
{
  if (update == NULL)
    return;
  g_free (update->user_id);
  g_clear_pointer (&update->payload, g_bytes_unref);
  g_free (update);
}

G_DEFINE_BOXED_TYPE (PrdStoreUpdate, prd_store_update, prd_store_update_copy, prd_store_update_free)

PrdStoreDocument *
prd_store_document_copy (const PrdStoreDocument *document)
{
  PrdStoreDocument *copy;

  g_return_val_if_fail (document != NULL, NULL);

  copy = g_new0 (PrdStoreDocument, 1);
  copy->info = document->info != NULL ? prd_store_info_copy (document->info) : NULL;
  copy->snapshot = document->snapshot != NULL ? g_bytes_ref (document->snapshot) : NULL;
  copy->updates = g_ptr_array_new_with_free_func ((GDestroyNotify) prd_store_update_free);
  for (guint i = 0; document->updates != NULL && i < document->updates->len; i++)
    g_ptr_array_add (copy->updates, prd_store_update_copy (document->updates->pdata[i]));
  return copy;
}

void
prd_store_document_free (PrdStoreDocument *document)
{
  if (document == NULL)
    return;
  g_clear_pointer (&document->info, prd_store_info_free);
  g_clear_pointer (&document->snapshot, g_bytes_unref);
  g_clear_pointer (&document->updates, g_ptr_array_unref);
  g_free (document);
}

G_DEFINE_BOXED_TYPE (PrdStoreDocument,
                     prd_store_document,
                     prd_store_document_copy,
                     prd_store_document_free)

PrdStoreSite *
prd_store_site_copy (const PrdStoreSite *site)
{
  PrdStoreSite *copy;

  g_return_val_if_fail (site != NULL, NULL);

  copy = g_new0 (PrdStoreSite, 1);
  *copy = *site;
  copy->user_id = g_strdup (site->user_id);
  copy->holder = g_strdup (site->holder);
  return copy;
}

void
prd_store_site_free (PrdStoreSite *site)
{
  if (site == NULL)
    return;
  g_free (site->user_id);
  g_free (site->holder);
  g_free (site);
}

G_DEFINE_BOXED_TYPE (PrdStoreSite, prd_store_site, prd_store_site_copy, prd_store_site_free)

/* Validation */

/**
 * prd_store_validate_prd_id:
 * @prd_id: (nullable): a PRD id from anywhere
 * @error: return location for a #GError
 *
 * The one gate every PRD id passes before it touches SQL, a file name or a
 * git ref: `prd_` followed by at least one of `A-Z a-z 0-9 _ -`, at most
 * %PRD_STORE_ID_MAX_LENGTH bytes in all.
 *
 * Returns: %TRUE if @prd_id is valid; otherwise %PRD_ERROR_INVALID_ID
 */
gboolean
prd_store_validate_prd_id (const char *prd_id, GError **error)
{
  gsize len;

  if (prd_id == NULL || !g_str_has_prefix (prd_id, "prd_"))
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INVALID_ID,
                           "A PRD id must start with \"prd_\"");
      return FALSE;
    }

  len = strlen (prd_id);
  if (len == strlen ("prd_") || len > PRD_STORE_ID_MAX_LENGTH)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_ID,
                   "A PRD id must be between 5 and %d characters long", PRD_STORE_ID_MAX_LENGTH);
      return FALSE;
    }

  for (const char *p = prd_id; *p != '\0'; p++)
    {
      if (!g_ascii_isalnum (*p) && *p != '_' && *p != '-')
        {
          g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INVALID_ID,
                               "A PRD id may only contain letters, digits, \"_\" and \"-\"");
          return FALSE;
        }
    }

  return TRUE;
}

/**
 * prd_store_validate_replica_id:
 * @replica_id: (nullable): a replica id from a client (`join-prd`'s
 *   `replicaId`)
 * @error: return location for a #GError
 *
 * A replica id is 1 to %PRD_STORE_ID_MAX_LENGTH letters, digits, `_` or
 * `-`; anything else is %PRD_ERROR_INVALID_PAYLOAD.
 *
 * Returns: whether @replica_id is one
 */
gboolean
prd_store_validate_replica_id (const char *replica_id, GError **error)
{
  gsize len = replica_id != NULL ? strlen (replica_id) : 0;
  gboolean valid = len >= 1 && len <= PRD_STORE_ID_MAX_LENGTH;

  for (gsize i = 0; valid && i < len; i++)
    valid = g_ascii_isalnum (replica_id[i]) || replica_id[i] == '_' || replica_id[i] == '-';
  if (!valid)
    g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
                 "replicaId must be 1 to %d letters, digits, \"_\" or \"-\"",
                 PRD_STORE_ID_MAX_LENGTH);
  return valid;
}

static gboolean
has_control_chars (const char *str)
{
  for (const char *p = str; *p != '\0'; p = g_utf8_next_char (p))
    if (g_unichar_iscntrl (g_utf8_get_char (p)))
      return TRUE;
  return FALSE;
}

/**
 * prd_store_validate_title:
 * @title: (nullable): a PRD title
 * @error: return location for a #GError
 *
 * A title is valid UTF-8 without control characters, not blank, and at most
 * %PRD_STORE_TITLE_MAX_CHARS characters long.
 *
 * Returns: %TRUE if valid; otherwise %PRD_ERROR_INVALID_PAYLOAD
 */
gboolean
prd_store_validate_title (const char *title, GError **error)
{
  gboolean blank = TRUE;

  if (title == NULL || !g_utf8_validate (title, -1, NULL))
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
                           "The title must be a UTF-8 string");
      return FALSE;
    }

  for (const char *p = title; *p != '\0'; p = g_utf8_next_char (p))
    if (!g_unichar_isspace (g_utf8_get_char (p)))
      blank = FALSE;
  if (blank)
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
                           "The title must not be empty");
      return FALSE;
    }

  if (g_utf8_strlen (title, -1) > PRD_STORE_TITLE_MAX_CHARS)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
                   "The title must be at most %d characters long", PRD_STORE_TITLE_MAX_CHARS);
      return FALSE;
    }

  if (has_control_chars (title))
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
                           "The title must not contain control characters");
      return FALSE;
    }

  return TRUE;
}

/**
 * prd_store_validate_name:
 * @what: what the name is, for the message ("organization", "user id")
 * @name: (nullable): an organization or user id
 * @error: return location for a #GError
 *
 * Organization and user ids come from JWT claims; they are stored, never used
 * as file names, so any non-empty UTF-8 without control characters up to
 * %PRD_STORE_NAME_MAX_BYTES bytes is accepted.
 *
 * Returns: %TRUE if valid; otherwise %PRD_ERROR_INVALID_PAYLOAD
 */
gboolean
prd_store_validate_name (const char *what, const char *name, GError **error)
{
  g_return_val_if_fail (what != NULL, FALSE);

  if (name == NULL || *name == '\0' || strlen (name) > PRD_STORE_NAME_MAX_BYTES ||
      !g_utf8_validate (name, -1, NULL) || has_control_chars (name))
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
                   "The %s must be non-empty UTF-8 of at most %d bytes without control "
                   "characters",
                   what, PRD_STORE_NAME_MAX_BYTES);
      return FALSE;
    }
  return TRUE;
}

/**
 * prd_store_validate_identity:
 * @what: what the name is, for the message ("organization", "owner")
 * @name: (nullable): an organization or a user id
 * @error: return location for a #GError
 *
 * prd_store_validate_name() and the rule of a token's `org` and `sub`
 * (prd_identity_text_check(), at most %PRD_STORE_NAME_MAX_BYTES bytes,
 * no `<` or `>`): what a new PRD's organization and owner must be.
 *
 * Returns: %TRUE if valid; otherwise %PRD_ERROR_INVALID_PAYLOAD
 */
gboolean
prd_store_validate_identity (const char *what, const char *name, GError **error)
{
  const char *why;

  g_return_val_if_fail (what != NULL, FALSE);

  if (!prd_store_validate_name (what, name, error))
    return FALSE;
  why = prd_identity_text_check (name, PRD_STORE_NAME_MAX_BYTES, TRUE, TRUE);
  if (why != NULL)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD, "The %s %s", what, why);
      return FALSE;
    }
  return TRUE;
}

static gboolean
parse_semver_number (const char **p)
{
  const char *start = *p;

  while (g_ascii_isdigit (**p))
    (*p)++;
  /* No leading zeros, and small enough to stay a plain number. */
  return *p > start && *p - start <= 9 && !(start[0] == '0' && *p - start > 1);
}

/**
 * prd_store_validate_version:
 * @version: (nullable): a version string
 * @error: return location for a #GError
 *
 * Versions are `MAJOR.MINOR.PATCH` (semantic versioning without pre-release
 * or build suffixes), because they become parts of git tag names.
 *
 * Returns: %TRUE if valid; otherwise %PRD_ERROR_INVALID_PAYLOAD
 */
gboolean
prd_store_validate_version (const char *version, GError **error)
{
  const char *p = version;

  if (version != NULL && strlen (version) <= PRD_STORE_VERSION_MAX_BYTES &&
      parse_semver_number (&p) && *p++ == '.' && parse_semver_number (&p) && *p++ == '.' &&
      parse_semver_number (&p) && *p == '\0')
    return TRUE;

  g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
                       "A version must look like MAJOR.MINOR.PATCH, e.g. 0.1.0");
  return FALSE;
}

static void
fill_random (guint8 *buf, gsize len)
{
  gsize done = 0;

  while (done < len)
    {
      ssize_t r = getrandom (buf + done, len - done, 0);

      if (r < 0)
        {
          if (errno == EINTR)
            continue;
          /* Ids are not secrets (access is checked by organization), so a
           * kernel without getrandom still gets unique-enough ids. */
          g_warning ("getrandom failed: %s; using GLib's generator", g_strerror (errno));
          for (; done < len; done++)
            buf[done] = (guint8) g_random_int_range (0, 256);
          return;
        }
      done += (gsize) r;
    }
}

/**
 * prd_store_generate_prd_id:
 *
 * A new random id: `prd_` and 16 lower-case base32 characters (80 bits).
 *
 * Returns: (transfer full): the id
 */
char *
prd_store_generate_prd_id (void)
{
  static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
  guint8 bytes[10];
  GString *id = g_string_new ("prd_");
  guint64 acc = 0;
  int bits = 0;

  fill_random (bytes, sizeof bytes);
  for (gsize i = 0; i < sizeof bytes; i++)
    {
      acc = (acc << 8) | bytes[i];
      bits += 8;
      while (bits >= 5)
        {
          bits -= 5;
          g_string_append_c (id, alphabet[(acc >> bits) & 0x1f]);
        }
    }
  g_assert (id->len == 4 + 16);
  return g_string_free (id, FALSE);
}

/* Interface wrappers */

#define REPORT_IF_INVALID(check)                                                                 \
  G_STMT_START                                                                                   \
  {                                                                                              \
    g_autoptr (GError) invalid = NULL;                                                           \
    if (!(check))                                                                                \
      {                                                                                          \
        g_task_report_error (self, callback, user_data, source_tag, g_steal_pointer (&invalid)); \
        return;                                                                                  \
      }                                                                                          \
  }                                                                                              \
  G_STMT_END

static gboolean
validate_bytes (const char *what, GBytes *bytes, gsize max, gboolean allow_empty, GError **error)
{
  if (bytes == NULL || (!allow_empty && g_bytes_get_size (bytes) == 0))
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD, "The %s must not be empty", what);
      return FALSE;
    }
  if (g_bytes_get_size (bytes) > max)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_PAYLOAD_TOO_LARGE,
                   "The %s is %" G_GSIZE_FORMAT " bytes; at most %" G_GSIZE_FORMAT " are allowed",
                   what, g_bytes_get_size (bytes), max);
      return FALSE;
    }
  return TRUE;
}

/**
 * prd_store_create_async:
 * @self: a #PrdStore
 * @prd_id: (nullable): the id for the new PRD, or %NULL to generate one
 * @org: the organization
 * @title: the title
 * @owner: the user id of the creator
 * @cancellable: (nullable): a #GCancellable
 * @callback: called when the PRD is committed
 * @user_data: data for @callback
 *
 * Creates a PRD at version `0.1.0` with an empty log. An id that is taken
 * fails with %PRD_ERROR_ALREADY_EXISTS.
 */
void
prd_store_create_async (PrdStore *self,
                        const char *prd_id,
                        const char *org,
                        const char *title,
                        const char *owner,
                        GCancellable *cancellable,
                        GAsyncReadyCallback callback,
                        gpointer user_data)
{
  prd_store_create_with_update_async (self, prd_id, org, title, owner, NULL, 0, NULL, cancellable,
                                      callback, user_data);
}

/**
 * prd_store_create_with_update_async:
 * @prd_id: (nullable): the id for the new PRD, or %NULL to generate one
 * @first_user: (nullable): the user the first update is by
 * @first_clock: its clock on site 0 (1 for a first operation)
 * @first_update: (nullable): the encoded operation; %NULL for none (then
 *   @first_user and @first_clock are not looked at)
 *
 * prd_store_create_async() with the PRD's first update: site 0 goes to
 * @first_user and @first_update is update 1, in the same transaction, so
 * that no one can read the PRD without it (a room that did would snapshot
 * over it). prd_store_create_finish() gives the result.
 */
void
prd_store_create_with_update_async (PrdStore *self,
                                    const char *prd_id,
                                    const char *org,
                                    const char *title,
                                    const char *owner,
                                    const char *first_user,
                                    gint64 first_clock,
                                    GBytes *first_update,
                                    GCancellable *cancellable,
                                    GAsyncReadyCallback callback,
                                    gpointer user_data)
{
  gpointer source_tag = prd_store_create_async;

  g_return_if_fail (PRD_IS_STORE (self));

  REPORT_IF_INVALID (prd_id == NULL || prd_store_validate_prd_id (prd_id, &invalid));
  REPORT_IF_INVALID (prd_store_validate_identity ("organization", org, &invalid));
  REPORT_IF_INVALID (prd_store_validate_title (title, &invalid));
  REPORT_IF_INVALID (prd_store_validate_identity ("owner", owner, &invalid));
  REPORT_IF_INVALID (first_update == NULL ||
                     prd_store_validate_name ("user id", first_user, &invalid));
  REPORT_IF_INVALID (
      first_update == NULL ||
      validate_bytes ("update", first_update, PRD_STORE_UPDATE_MAX_BYTES, FALSE, &invalid));
  if (first_update != NULL && first_clock < 1)
    {
      g_task_report_new_error (self, callback, user_data, source_tag, PRD_ERROR,
                               PRD_ERROR_INVALID_OPERATION, "An update needs a clock >= 1");
      return;
    }

  PRD_STORE_GET_IFACE (self)->create (self, prd_id, org, title, owner, first_user, first_clock,
                                      first_update, cancellable, callback, user_data);
}

/**
 * prd_store_create_finish:
 * @self: a #PrdStore
 * @result: the #GAsyncResult
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the new PRD's metadata, or %NULL on error
 */
PrdStoreInfo *
prd_store_create_finish (PrdStore *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * prd_store_get_async:
 * @self: a #PrdStore
 * @prd_id: the PRD id
 * @cancellable: (nullable): a #GCancellable
 * @callback: called with the result
 * @user_data: data for @callback
 *
 * Reads a PRD's metadata; a missing PRD fails with %PRD_ERROR_PRD_NOT_FOUND.
 */
void
prd_store_get_async (PrdStore *self,
                     const char *prd_id,
                     GCancellable *cancellable,
                     GAsyncReadyCallback callback,
                     gpointer user_data)
{
  gpointer source_tag = prd_store_get_async;

  g_return_if_fail (PRD_IS_STORE (self));

  REPORT_IF_INVALID (prd_store_validate_prd_id (prd_id, &invalid));

  PRD_STORE_GET_IFACE (self)->get (self, prd_id, cancellable, callback, user_data);
}

/**
 * prd_store_get_finish:
 * @self: a #PrdStore
 * @result: the #GAsyncResult
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the metadata, or %NULL on error
 */
PrdStoreInfo *
prd_store_get_finish (PrdStore *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * prd_store_list_async:
 * @self: a #PrdStore
 * @org: the organization
 * @cancellable: (nullable): a #GCancellable
 * @callback: called with the result
 * @user_data: data for @callback
 *
 * Lists the PRDs of @org, oldest first.
 */
void
prd_store_list_async (PrdStore *self,
                      const char *org,
                      GCancellable *cancellable,
                      GAsyncReadyCallback callback,
                      gpointer user_data)
{
  gpointer source_tag = prd_store_list_async;

  g_return_if_fail (PRD_IS_STORE (self));

  REPORT_IF_INVALID (prd_store_validate_name ("organization", org, &invalid));

  PRD_STORE_GET_IFACE (self)->list (self, org, cancellable, callback, user_data);
}

/**
 * prd_store_list_finish:
 * @self: a #PrdStore
 * @result: the #GAsyncResult
 * @error: return location for a #GError
 *
 * Returns: (transfer container) (element-type PrdStoreInfo): the PRDs, or
 *   %NULL on error
 */
GPtrArray *
prd_store_list_finish (PrdStore *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * prd_store_update_metadata_async:
 * @self: a #PrdStore
 * @prd_id: the PRD id
 * @title: (nullable): a new title, or %NULL to keep it
 * @version: (nullable): a new version string, or %NULL to keep it
 * @cancellable: (nullable): a #GCancellable
 * @callback: called when the change is committed
 * @user_data: data for @callback
 *
 * Changes title and/or version and bumps `updated_at`.
 */
void
prd_store_update_metadata_async (PrdStore *self,
                                 const char *prd_id,
                                 const char *title,
                                 const char *version,
                                 GCancellable *cancellable,
                                 GAsyncReadyCallback callback,
                                 gpointer user_data)
{
  gpointer source_tag = prd_store_update_metadata_async;

  g_return_if_fail (PRD_IS_STORE (self));

  REPORT_IF_INVALID (prd_store_validate_prd_id (prd_id, &invalid));
  REPORT_IF_INVALID (title == NULL || prd_store_validate_title (title, &invalid));
  REPORT_IF_INVALID (version == NULL || prd_store_validate_version (version, &invalid));

  PRD_STORE_GET_IFACE (self)->update_metadata (self, prd_id, title, version, cancellable, callback,
                                               user_data);
}

/**
 * prd_store_update_metadata_finish:
 * @self: a #PrdStore
 * @result: the #GAsyncResult
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the metadata after the change, or %NULL on error
 */
PrdStoreInfo *
prd_store_update_metadata_finish (PrdStore *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * prd_store_delete_async:
 * @self: a #PrdStore
 * @prd_id: the PRD id
 * @cancellable: (nullable): a #GCancellable
 * @callback: called when the deletion is committed
 * @user_data: data for @callback
 *
 * Deletes a PRD with its log and sites.
 */
void
prd_store_delete_async (PrdStore *self,
                        const char *prd_id,
                        GCancellable *cancellable,
                        GAsyncReadyCallback callback,
                        gpointer user_data)
{
  gpointer source_tag = prd_store_delete_async;

  g_return_if_fail (PRD_IS_STORE (self));

  REPORT_IF_INVALID (prd_store_validate_prd_id (prd_id, &invalid));

  PRD_STORE_GET_IFACE (self)->delete (self, prd_id, cancellable, callback, user_data);
}

/**
 * prd_store_delete_finish:
 * @self: a #PrdStore
 * @result: the #GAsyncResult
 * @error: return location for a #GError
 *
 * Returns: %TRUE if the PRD was deleted
 */
gboolean
prd_store_delete_finish (PrdStore *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * prd_store_append_update_async:
 * @self: a #PrdStore
 * @prd_id: the PRD id
 * @site: a site acquired with prd_store_acquire_site_async()
 * @clock: the update's clock within @site (from 1)
 * @user_id: the user whose connection produced the update
 * @payload: the encoded CRDT update
 * @cancellable: (nullable): a #GCancellable; it stops the append only while
 *   it is still queued
 * @callback: called once the update is committed: only then may it be
 *   acknowledged
 * @user_data: data for @callback
 *
 * Appends an update to the PRD's log. Appends issued close together are
 * committed together; the callback never runs before the commit.
 */
void
prd_store_append_update_async (PrdStore *self,
                               const char *prd_id,
                               int site,
                               gint64 clock,
                               const char *user_id,
                               GBytes *payload,
                               GCancellable *cancellable,
                               GAsyncReadyCallback callback,
                               gpointer user_data)
{
  gpointer source_tag = prd_store_append_update_async;

  g_return_if_fail (PRD_IS_STORE (self));

  REPORT_IF_INVALID (prd_store_validate_prd_id (prd_id, &invalid));
  REPORT_IF_INVALID (prd_store_validate_name ("user id", user_id, &invalid));
  REPORT_IF_INVALID (
      validate_bytes ("update", payload, PRD_STORE_UPDATE_MAX_BYTES, FALSE, &invalid));
  if (site < 0 || clock < 1)
    {
      g_task_report_new_error (self, callback, user_data, source_tag, PRD_ERROR,
                               PRD_ERROR_INVALID_OPERATION,
                               "An update needs a site >= 0 and a clock >= 1");
      return;
    }

  PRD_STORE_GET_IFACE (self)->append_update (self, prd_id, site, clock, user_id, payload,
                                             cancellable, callback, user_data);
}

/**
 * prd_store_append_update_finish:
 * @self: a #PrdStore
 * @result: the #GAsyncResult
 * @error: return location for a #GError
 *
 * Returns: the update's sequence number in the log, or -1 on error
 */
gint64
prd_store_append_update_finish (PrdStore *self, GAsyncResult *result, GError **error)
{
  g_autofree gint64 *seq = NULL;

  g_return_val_if_fail (g_task_is_valid (result, self), -1);

  seq = g_task_propagate_pointer (G_TASK (result), error);
  return seq != NULL ? *seq : -1;
}

/**
 * prd_store_load_async:
 * @self: a #PrdStore
 * @prd_id: the PRD id
 * @cancellable: (nullable): a #GCancellable
 * @callback: called with the result
 * @user_data: data for @callback
 *
 * Reads what is needed to restore a PRD: its snapshot and the updates after
 * it. A log with gaps fails with %PRD_ERROR_CORRUPT_DATA.
 */
void
prd_store_load_async (PrdStore *self,
                      const char *prd_id,
                      GCancellable *cancellable,
                      GAsyncReadyCallback callback,
                      gpointer user_data)
{
  prd_store_load_in_org_async (self, prd_id, NULL, cancellable, callback, user_data);
}

/**
 * prd_store_load_in_org_async:
 * @self: a #PrdStore
 * @prd_id: the PRD id
 * @org: (nullable): the reader's organization; %NULL reads the PRD of any
 *   organization (prd_store_load_async())
 * @cancellable: (nullable): a #GCancellable
 * @callback: called with the result
 * @user_data: data for @callback
 *
 * prd_store_load_async() for a reader of @org: a PRD of another
 * organization fails with %PRD_ERROR_PRD_NOT_FOUND and the message of an
 * unknown id, and neither its snapshot nor its update log is read (one
 * look at its metadata, as for an unknown id). Finish with
 * prd_store_load_finish().
 */
void
prd_store_load_in_org_async (PrdStore *self,
                             const char *prd_id,
                             const char *org,
                             GCancellable *cancellable,
                             GAsyncReadyCallback callback,
                             gpointer user_data)
{
  gpointer source_tag = prd_store_load_async;

  g_return_if_fail (PRD_IS_STORE (self));

  REPORT_IF_INVALID (prd_store_validate_prd_id (prd_id, &invalid));
  if (org != NULL)
    REPORT_IF_INVALID (prd_store_validate_name ("organization", org, &invalid));

  PRD_STORE_GET_IFACE (self)->load (self, prd_id, org, cancellable, callback, user_data);
}

/**
 * prd_store_load_finish:
 * @self: a #PrdStore
 * @result: the #GAsyncResult
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the document, or %NULL on error
 */
PrdStoreDocument *
prd_store_load_finish (PrdStore *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * prd_store_validate_snapshot:
 * @state: (nullable): an encoded CRDT state
 * @error: return location for a #GError
 *
 * What every snapshot must be: bytes (%NULL fails with
 * %PRD_ERROR_INVALID_PAYLOAD; empty is allowed) of at most
 * %PRD_STORE_SNAPSHOT_MAX_BYTES (%PRD_ERROR_PAYLOAD_TOO_LARGE).
 * Implementations check the result of a #PrdStorePackFunc with it.
 *
 * Returns: %TRUE if @state may be stored
 */
gboolean
prd_store_validate_snapshot (GBytes *state, GError **error)
{
  return validate_bytes ("snapshot", state, PRD_STORE_SNAPSHOT_MAX_BYTES, TRUE, error);
}

static gboolean
validate_snapshot_seq (gint64 seq, GError **error)
{
  if (seq < 0)
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION,
                           "A snapshot's sequence number must not be negative");
      return FALSE;
    }
  return TRUE;
}

static GBytes *
ref_bytes (gpointer data)
{
  return g_bytes_ref (data);
}

/**
 * prd_store_write_snapshot_async:
 * @self: a #PrdStore
 * @prd_id: the PRD id
 * @state: the encoded CRDT state after update @seq
 * @seq: the last update @state includes; not beyond the log's end, not
 *   before the current snapshot
 * @cancellable: (nullable): a #GCancellable
 * @callback: called when the snapshot is committed
 * @user_data: data for @callback
 *
 * Stores a snapshot and drops the log up to and including @seq.
 */
void
prd_store_write_snapshot_async (PrdStore *self,
                                const char *prd_id,
                                GBytes *state,
                                gint64 seq,
                                GCancellable *cancellable,
                                GAsyncReadyCallback callback,
                                gpointer user_data)
{
  gpointer source_tag = prd_store_write_snapshot_async;

  g_return_if_fail (PRD_IS_STORE (self));

  REPORT_IF_INVALID (prd_store_validate_prd_id (prd_id, &invalid));
  REPORT_IF_INVALID (prd_store_validate_snapshot (state, &invalid));
  REPORT_IF_INVALID (validate_snapshot_seq (seq, &invalid));

  prd_store_write_snapshot_packed_async (self, prd_id, ref_bytes, g_bytes_ref (state),
                                         (GDestroyNotify) g_bytes_unref, seq, cancellable, callback,
                                         user_data);
}

/**
 * prd_store_write_snapshot_packed_async:
 * @self: a #PrdStore
 * @prd_id: the PRD id
 * @pack: makes the encoded CRDT state after update @seq
 * @pack_data: (closure pack): data for @pack
 * @pack_destroy: (nullable): frees @pack_data
 * @seq: the last update the state includes; not beyond the log's end, not
 *   before the current snapshot
 * @cancellable: (nullable): a #GCancellable
 * @callback: called when the snapshot is committed
 * @user_data: data for @callback
 *
 * Like prd_store_write_snapshot_async(), for a state too long to make on
 * the caller's thread (compressing it, say): @pack runs on the store's own
 * thread just before the write, in order with the store's other requests,
 * and does not run at all when the request is cancelled or fails before.
 * What it returns is checked as prd_store_write_snapshot_async() checks
 * @state (prd_store_validate_snapshot()): %NULL fails with
 * %PRD_ERROR_INVALID_PAYLOAD, more than %PRD_STORE_SNAPSHOT_MAX_BYTES with
 * %PRD_ERROR_PAYLOAD_TOO_LARGE, and such a request changes nothing.
 *
 * @pack must not touch anything the caller's thread may be changing
 * meanwhile. @pack_destroy is called on @pack_data exactly once whatever
 * happens (invalid arguments, cancelled, store closed, failed or written),
 * after @pack has returned if it ran, on the thread of the store's main
 * context. Finish with prd_store_write_snapshot_finish().
 */
void
prd_store_write_snapshot_packed_async (PrdStore *self,
                                       const char *prd_id,
                                       PrdStorePackFunc pack,
                                       gpointer pack_data,
                                       GDestroyNotify pack_destroy,
                                       gint64 seq,
                                       GCancellable *cancellable,
                                       GAsyncReadyCallback callback,
                                       gpointer user_data)
{
  g_autoptr (GError) invalid = NULL;

  if (!PRD_IS_STORE (self) || pack == NULL)
    {
      if (pack_destroy != NULL)
        pack_destroy (pack_data);
      g_return_if_fail (PRD_IS_STORE (self));
      g_return_if_fail (pack != NULL);
      return;
    }

  if (!prd_store_validate_prd_id (prd_id, &invalid) || !validate_snapshot_seq (seq, &invalid))
    {
      if (pack_destroy != NULL)
        pack_destroy (pack_data);
      g_task_report_error (self, callback, user_data, prd_store_write_snapshot_packed_async,
                           g_steal_pointer (&invalid));
      return;
    }

  PRD_STORE_GET_IFACE (self)->write_snapshot (self, prd_id, pack, pack_data, pack_destroy, seq,
                                              cancellable, callback, user_data);
}

/**
 * prd_store_write_snapshot_finish:
 * @self: a #PrdStore
 * @result: the #GAsyncResult
 * @error: return location for a #GError
 *
 * Finishes prd_store_write_snapshot_async() and
 * prd_store_write_snapshot_packed_async().
 *
 * Returns: %TRUE if the snapshot was stored
 */
gboolean
prd_store_write_snapshot_finish (PrdStore *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * prd_store_acquire_site_async:
 * @self: a #PrdStore
 * @prd_id: the PRD id
 * @user_id: the user joining in edit mode
 * @busy_sites: (array length=n_busy_sites) (nullable): sites held by live
 *   connections, which must not be handed out
 * @n_busy_sites: the length of @busy_sites
 * @cancellable: (nullable): a #GCancellable
 * @callback: called with the site
 * @user_data: data for @callback
 *
 * Gives the user back the lowest of their sites no live connection holds
 * and that is not retired, with its clock, or allocates (and persists) the
 * next free site.
 */
void
prd_store_acquire_site_async (PrdStore *self,
                              const char *prd_id,
                              const char *user_id,
                              const int *busy_sites,
                              guint n_busy_sites,
                              GCancellable *cancellable,
                              GAsyncReadyCallback callback,
                              gpointer user_data)
{
  gpointer source_tag = prd_store_acquire_site_async;

  g_return_if_fail (PRD_IS_STORE (self));
  g_return_if_fail (busy_sites != NULL || n_busy_sites == 0);

  REPORT_IF_INVALID (prd_store_validate_prd_id (prd_id, &invalid));
  REPORT_IF_INVALID (prd_store_validate_name ("user id", user_id, &invalid));

  PRD_STORE_GET_IFACE (self)->acquire_site (self, prd_id, user_id, busy_sites, n_busy_sites,
                                            cancellable, callback, user_data);
}

/**
 * prd_store_acquire_site_finish:
 * @self: a #PrdStore
 * @result: the #GAsyncResult
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the site, or %NULL on error
 */
PrdStoreSite *
prd_store_acquire_site_finish (PrdStore *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * prd_store_list_sites_async:
 * @self: a #PrdStore
 * @prd_id: the PRD id
 * @cancellable: (nullable): a #GCancellable
 * @callback: called with the result
 * @user_data: data for @callback
 *
 * Lists a PRD's sites in site order, e.g. to check that a rejoining client's
 * site belongs to its user.
 */
void
prd_store_list_sites_async (PrdStore *self,
                            const char *prd_id,
                            GCancellable *cancellable,
                            GAsyncReadyCallback callback,
                            gpointer user_data)
{
  gpointer source_tag = prd_store_list_sites_async;

  g_return_if_fail (PRD_IS_STORE (self));

  REPORT_IF_INVALID (prd_store_validate_prd_id (prd_id, &invalid));

  PRD_STORE_GET_IFACE (self)->list_sites (self, prd_id, cancellable, callback, user_data);
}

/**
 * prd_store_list_sites_finish:
 * @self: a #PrdStore
 * @result: the #GAsyncResult
 * @error: return location for a #GError
 *
 * Returns: (transfer container) (element-type PrdStoreSite): the sites, or
 *   %NULL on error
 */
GPtrArray *
prd_store_list_sites_finish (PrdStore *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * prd_store_hold_site_async:
 * @self: a #PrdStore
 * @prd_id: the PRD id
 * @site: a site of the PRD
 * @holder: (nullable): the replica that writes with @site from now on
 *   (prd_store_validate_replica_id()), or %NULL for one that did not say
 * @holder_from: @site's operation count at this moment
 * @cancellable: (nullable): a #GCancellable
 * @callback: called once it is stored
 * @user_data: data for @callback
 *
 * Records that @site changed hands: the operations after @holder_from are
 * @holder's. A replica that comes back with operations of its own past that
 * number, while @holder is another, would reuse ids the site's new holder
 * took, so the room gives it another site (see prd_hub_room_join()). A
 * site or PRD that no longer exists is no error: there is nothing to hold.
 * Requests run in order, so an operation appended after this call is never
 * durable without it.
 */
void
prd_store_hold_site_async (PrdStore *self,
                           const char *prd_id,
                           int site,
                           const char *holder,
                           gint64 holder_from,
                           GCancellable *cancellable,
                           GAsyncReadyCallback callback,
                           gpointer user_data)
{
  gpointer source_tag = prd_store_hold_site_async;

  g_return_if_fail (PRD_IS_STORE (self));

  REPORT_IF_INVALID (prd_store_validate_prd_id (prd_id, &invalid));
  REPORT_IF_INVALID (holder == NULL || prd_store_validate_replica_id (holder, &invalid));
  if (site < 0 || site > PRD_STORE_MAX_SITE || holder_from < 0)
    {
      g_task_report_new_error (self, callback, user_data, source_tag, PRD_ERROR,
                               PRD_ERROR_INVALID_OPERATION, "No site %d from %" G_GINT64_FORMAT,
                               site, holder_from);
      return;
    }

  PRD_STORE_GET_IFACE (self)->hold_site (self, prd_id, site, holder, holder_from, cancellable,
                                         callback, user_data);
}

/**
 * prd_store_hold_site_finish:
 * @self: a #PrdStore
 * @result: the #GAsyncResult
 * @error: return location for a #GError
 *
 * Returns: %TRUE once stored
 */
gboolean
prd_store_hold_site_finish (PrdStore *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * prd_store_retire_sites_async:
 * @self: a #PrdStore
 * @prd_id: (nullable): a PRD id, or %NULL for every PRD
 * @cancellable: (nullable): a #GCancellable
 * @callback: called once it is stored
 * @user_data: data for @callback
 *
 * Retires the sites of @prd_id (of every PRD): prd_store_acquire_site_async()
 * never hands them out again, and rooms give them back to nobody. For when
 * operations may have been handed out (in a join's state) and then lost
 * before they were stored: after a crash, a failed write or a restore. A
 * site that went on would number its next operations like the lost ones,
 * and a client that held a lost one would take the new one for it.
 */
void
prd_store_retire_sites_async (PrdStore *self,
                              const char *prd_id,
                              GCancellable *cancellable,
                              GAsyncReadyCallback callback,
                              gpointer user_data)
{
  gpointer source_tag = prd_store_retire_sites_async;

  g_return_if_fail (PRD_IS_STORE (self));

  REPORT_IF_INVALID (prd_id == NULL || prd_store_validate_prd_id (prd_id, &invalid));

  PRD_STORE_GET_IFACE (self)->retire_sites (self, prd_id, cancellable, callback, user_data);
}

/**
 * prd_store_retire_sites_finish:
 * @self: a #PrdStore
 * @result: the #GAsyncResult
 * @error: return location for a #GError
 *
 * Returns: %TRUE once stored
 */
gboolean
prd_store_retire_sites_finish (PrdStore *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * prd_store_close_async:
 * @self: a #PrdStore
 * @cancellable: (nullable): a #GCancellable
 * @callback: called once everything queued before is committed and the
 *   store is closed
 * @user_data: data for @callback
 *
 * Flushes and closes the store; later operations fail with
 * %PRD_ERROR_STORAGE.
 */
void
prd_store_close_async (PrdStore *self,
                       GCancellable *cancellable,
                       GAsyncReadyCallback callback,
                       gpointer user_data)
{
  g_return_if_fail (PRD_IS_STORE (self));

  PRD_STORE_GET_IFACE (self)->close (self, cancellable, callback, user_data);
}

/**
 * prd_store_close_finish:
 * @self: a #PrdStore
 * @result: the #GAsyncResult
 * @error: return location for a #GError
 *
 * Returns: %TRUE if the store was closed cleanly
 */
gboolean
prd_store_close_finish (PrdStore *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}
