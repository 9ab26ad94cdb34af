/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Limits every backend enforces; the store is the last line before disk. */
#define PRD_STORE_ID_MAX_LENGTH      64
#define PRD_STORE_TITLE_MAX_CHARS    200
#define PRD_STORE_NAME_MAX_BYTES     256 /* org, owner, user ids */
#define PRD_STORE_VERSION_MAX_BYTES  32
#define PRD_STORE_UPDATE_MAX_BYTES   (4 * 1024 * 1024)
#define PRD_STORE_SNAPSHOT_MAX_BYTES (64 * 1024 * 1024)
#define PRD_STORE_MAX_SITE           G_MAXINT32

/**
 * PrdStoreInfo:
 * @id: the PRD id (`prd_…`)
 * @org: the organization the PRD belongs to
 * @title: the title
 * @version: the version string, `0.1.0` for a new PRD
 * @owner: the user id of the creator
 * @created_at: creation time, microseconds since the Unix epoch
 * @updated_at: last change (metadata or content), microseconds since the epoch
 * @snapshot_seq: the update sequence number the stored snapshot covers
 * @last_seq: the sequence number of the last appended update (0: none)
 * @archived_at: when the PRD was archived, microseconds since the epoch;
 *   0 while it is not (#PrdManageStore)
 *
 * The metadata of one PRD, without its content.
 */
typedef struct
{
  char *id;
  char *org;
  char *title;
  char *version;
  char *owner;
  gint64 created_at;
  gint64 updated_at;
  gint64 snapshot_seq;
  gint64 last_seq;
  gint64 archived_at;
} PrdStoreInfo;

/**
 * PrdStoreUpdate:
 * @seq: position in the PRD's update log, from 1, without gaps
 * @site: the site that produced the update
 * @clock: the clock of the update within @site
 * @user_id: the user whose connection produced it
 * @payload: the encoded CRDT update (opaque to the store)
 * @created_at: when it was appended, microseconds since the epoch
 */
typedef struct
{
  gint64 seq;
  int site;
  gint64 clock;
  char *user_id;
  GBytes *payload;
  gint64 created_at;
} PrdStoreUpdate;

/**
 * PrdStoreDocument:
 * @info: the metadata
 * @snapshot: (nullable): the encoded CRDT state of the last snapshot
 * @updates: (element-type PrdStoreUpdate): the updates after
 *   `info->snapshot_seq`, in sequence order
 *
 * Everything needed to rebuild a PRD exactly: apply @updates to @snapshot.
 */
typedef struct
{
  PrdStoreInfo *info;
  GBytes *snapshot;
  GPtrArray *updates;
} PrdStoreDocument;

/**
 * PrdStoreSite:
 * @site: a small integer unique within the PRD
 * @user_id: the user the site belongs to
 * @clock: the highest clock stored for this site (0: none yet)
 * @is_new: whether prd_store_acquire_site_async() allocated it just now
 * @holder: (nullable): the replica that writes with the site since it was
 *   last handed to another (prd_store_hold_site_async()); %NULL when it
 *   never said which it is
 * @holder_from: the site's operation count when @holder took it over: the
 *   operations after that number are @holder's
 * @retired: the site is never handed out again (prd_store_retire_sites_async())
 */
typedef struct
{
  int site;
  char *user_id;
  gint64 clock;
  gboolean is_new;
  char *holder;
  gint64 holder_from;
  gboolean retired;
} PrdStoreSite;

#define PRD_TYPE_STORE_INFO     (prd_store_info_get_type ())
#define PRD_TYPE_STORE_UPDATE   (prd_store_update_get_type ())
#define PRD_TYPE_STORE_DOCUMENT (prd_store_document_get_type ())
#define PRD_TYPE_STORE_SITE     (prd_store_site_get_type ())

GType prd_store_info_get_type (void) G_GNUC_CONST;
PrdStoreInfo *prd_store_info_copy (const PrdStoreInfo *info);
void prd_store_info_free (PrdStoreInfo *info);

GType prd_store_update_get_type (void) G_GNUC_CONST;
PrdStoreUpdate *prd_store_update_copy (const PrdStoreUpdate *update);
void prd_store_update_free (PrdStoreUpdate *update);

GType prd_store_document_get_type (void) G_GNUC_CONST;
PrdStoreDocument *prd_store_document_copy (const PrdStoreDocument *document);
void prd_store_document_free (PrdStoreDocument *document);

GType prd_store_site_get_type (void) G_GNUC_CONST;
PrdStoreSite *prd_store_site_copy (const PrdStoreSite *site);
void prd_store_site_free (PrdStoreSite *site);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrdStoreInfo, prd_store_info_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrdStoreUpdate, prd_store_update_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrdStoreDocument, prd_store_document_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrdStoreSite, prd_store_site_free)

gboolean prd_store_validate_prd_id (const char *prd_id, GError **error);
gboolean prd_store_validate_title (const char *title, GError **error);
gboolean prd_store_validate_name (const char *what, const char *name, GError **error);
gboolean prd_store_validate_identity (const char *what, const char *name, GError **error);
gboolean prd_store_validate_version (const char *version, GError **error);
char *prd_store_generate_prd_id (void);

/**
 * PrdStorePackFunc:
 * @data: the caller's data
 *
 * Makes the bytes to store, on the store's own thread
 * (prd_store_write_snapshot_packed_async()).
 *
 * Returns: (transfer full) (nullable): the bytes, or %NULL when there are none
 */
typedef GBytes *(*PrdStorePackFunc) (gpointer data);

gboolean prd_store_validate_snapshot (GBytes *state, GError **error);

#define PRD_TYPE_STORE (prd_store_get_type ())

G_DECLARE_INTERFACE (PrdStore, prd_store, PRD, STORE, GObject)

/**
 * PrdStoreInterface:
 *
 * A durable home for PRDs. Every operation is asynchronous; an
 * implementation completes it with a #GTask whose source object is the
 * store, returning the documented pointer type (or a boolean for operations
 * that produce nothing), so the `_finish` functions are shared. Every
 * operation validates its arguments before anything touches storage, and a
 * rejected operation changes nothing.
 *
 * @load gets the reader's organization, or %NULL for any: a PRD of another
 * organization fails exactly as an unknown id does (%PRD_ERROR_PRD_NOT_FOUND,
 * same message), decided from the PRD's metadata before its snapshot or
 * update log is read, so that it costs what an unknown id costs.
 *
 * @write_snapshot gets the state as a #PrdStorePackFunc: the implementation
 * calls it once, on a thread of its own, right before the write (not at all
 * when the request is cancelled or fails before), checks what it returns
 * with prd_store_validate_snapshot(), and calls @pack_destroy on @pack_data
 * exactly once, whatever happens.
 */
struct _PrdStoreInterface
{
  GTypeInterface parent_iface;

  void (*create) (PrdStore *self,
                  const char *prd_id,
                  const char *org,
                  const char *title,
                  const char *owner,
                  const char *first_user,
                  gint64 first_clock,
                  GBytes *first_update,
                  GCancellable *cancellable,
                  GAsyncReadyCallback callback,
                  gpointer user_data);
  void (*get) (PrdStore *self,
               const char *prd_id,
               GCancellable *cancellable,
               GAsyncReadyCallback callback,
               gpointer user_data);
  void (*list) (PrdStore *self,
                const char *org,
                GCancellable *cancellable,
                GAsyncReadyCallback callback,
                gpointer user_data);
  void (*update_metadata) (PrdStore *self,
                           const char *prd_id,
                           const char *title,
                           const char *version,
                           GCancellable *cancellable,
                           GAsyncReadyCallback callback,
                           gpointer user_data);
  void (*delete) (PrdStore *self,
                  const char *prd_id,
                  GCancellable *cancellable,
                  GAsyncReadyCallback callback,
                  gpointer user_data);
  void (*append_update) (PrdStore *self,
                         const char *prd_id,
                         int site,
                         gint64 clock,
                         const char *user_id,
                         GBytes *payload,
                         GCancellable *cancellable,
                         GAsyncReadyCallback callback,
                         gpointer user_data);
  void (*load) (PrdStore *self,
                const char *prd_id,
                const char *org,
                GCancellable *cancellable,
                GAsyncReadyCallback callback,
                gpointer user_data);
  void (*write_snapshot) (PrdStore *self,
                          const char *prd_id,
                          PrdStorePackFunc pack,
                          gpointer pack_data,
                          GDestroyNotify pack_destroy,
                          gint64 seq,
                          GCancellable *cancellable,
                          GAsyncReadyCallback callback,
                          gpointer user_data);
  void (*acquire_site) (PrdStore *self,
                        const char *prd_id,
                        const char *user_id,
                        const int *busy_sites,
                        guint n_busy_sites,
                        GCancellable *cancellable,
                        GAsyncReadyCallback callback,
                        gpointer user_data);
  void (*list_sites) (PrdStore *self,
                      const char *prd_id,
                      GCancellable *cancellable,
                      GAsyncReadyCallback callback,
                      gpointer user_data);
  void (*hold_site) (PrdStore *self,
                     const char *prd_id,
                     int site,
                     const char *holder,
                     gint64 holder_from,
                     GCancellable *cancellable,
                     GAsyncReadyCallback callback,
                     gpointer user_data);
  void (*retire_sites) (PrdStore *self,
                        const char *prd_id,
                        GCancellable *cancellable,
                        GAsyncReadyCallback callback,
                        gpointer user_data);
  void (*close) (PrdStore *self,
                 GCancellable *cancellable,
                 GAsyncReadyCallback callback,
                 gpointer user_data);
};

void prd_store_create_async (PrdStore *self,
                             const char *prd_id,
                             const char *org,
                             const char *title,
                             const char *owner,
                             GCancellable *cancellable,
                             GAsyncReadyCallback callback,
                             gpointer user_data);
void prd_store_create_with_update_async (PrdStore *self,
                                         const char *prd_id,
                                         const char *org,
                                         const char *title,
                                         const char *owner,
                                         const char *first_user,
                                         gint64 first_clock,
                                         GBytes *first_update,
                                         GCancellable *cancellable,
                                         GAsyncReadyCallback callback,
                                         gpointer user_data);
PrdStoreInfo *prd_store_create_finish (PrdStore *self, GAsyncResult *result, GError **error);

void prd_store_get_async (PrdStore *self,
                          const char *prd_id,
                          GCancellable *cancellable,
                          GAsyncReadyCallback callback,
                          gpointer user_data);
PrdStoreInfo *prd_store_get_finish (PrdStore *self, GAsyncResult *result, GError **error);

void prd_store_list_async (PrdStore *self,
                           const char *org,
                           GCancellable *cancellable,
                           GAsyncReadyCallback callback,
                           gpointer user_data);
GPtrArray *prd_store_list_finish (PrdStore *self, GAsyncResult *result, GError **error);

void prd_store_update_metadata_async (PrdStore *self,
                                      const char *prd_id,
                                      const char *title,
                                      const char *version,
                                      GCancellable *cancellable,
                                      GAsyncReadyCallback callback,
                                      gpointer user_data);
PrdStoreInfo *
prd_store_update_metadata_finish (PrdStore *self, GAsyncResult *result, GError **error);

void prd_store_delete_async (PrdStore *self,
                             const char *prd_id,
                             GCancellable *cancellable,
                             GAsyncReadyCallback callback,
                             gpointer user_data);
gboolean prd_store_delete_finish (PrdStore *self, GAsyncResult *result, GError **error);

void prd_store_append_update_async (PrdStore *self,
                                    const char *prd_id,
                                    int site,
                                    gint64 clock,
                                    const char *user_id,
                                    GBytes *payload,
                                    GCancellable *cancellable,
                                    GAsyncReadyCallback callback,
                                    gpointer user_data);
gint64 prd_store_append_update_finish (PrdStore *self, GAsyncResult *result, GError **error);

void prd_store_load_async (PrdStore *self,
                           const char *prd_id,
                           GCancellable *cancellable,
                           GAsyncReadyCallback callback,
                           gpointer user_data);
void prd_store_load_in_org_async (PrdStore *self,
                                  const char *prd_id,
                                  const char *org,
                                  GCancellable *cancellable,
                                  GAsyncReadyCallback callback,
                                  gpointer user_data);
PrdStoreDocument *prd_store_load_finish (PrdStore *self, GAsyncResult *result, GError **error);

void prd_store_write_snapshot_async (PrdStore *self,
                                     const char *prd_id,
                                     GBytes *state,
                                     gint64 seq,
                                     GCancellable *cancellable,
                                     GAsyncReadyCallback callback,
                                     gpointer user_data);
void prd_store_write_snapshot_packed_async (PrdStore *self,
                                            const char *prd_id,
                                            PrdStorePackFunc pack,
                                            gpointer pack_data,
                                            GDestroyNotify pack_destroy,
                                            gint64 seq,
                                            GCancellable *cancellable,
                                            GAsyncReadyCallback callback,
                                            gpointer user_data);
gboolean prd_store_write_snapshot_finish (PrdStore *self, GAsyncResult *result, GError **error);

void prd_store_acquire_site_async (PrdStore *self,
                                   const char *prd_id,
                                   const char *user_id,
                                   const int *busy_sites,
                                   guint n_busy_sites,
                                   GCancellable *cancellable,
                                   GAsyncReadyCallback callback,
                                   gpointer user_data);
PrdStoreSite *prd_store_acquire_site_finish (PrdStore *self, GAsyncResult *result, GError **error);

void prd_store_list_sites_async (PrdStore *self,
                                 const char *prd_id,
                                 GCancellable *cancellable,
                                 GAsyncReadyCallback callback,
                                 gpointer user_data);
GPtrArray *prd_store_list_sites_finish (PrdStore *self, GAsyncResult *result, GError **error);
void prd_store_hold_site_async (PrdStore *self,
                                const char *prd_id,
                                int site,
                                const char *holder,
                                gint64 holder_from,
                                GCancellable *cancellable,
                                GAsyncReadyCallback callback,
                                gpointer user_data);
gboolean prd_store_hold_site_finish (PrdStore *self, GAsyncResult *result, GError **error);
void prd_store_retire_sites_async (PrdStore *self,
                                   const char *prd_id,
                                   GCancellable *cancellable,
                                   GAsyncReadyCallback callback,
                                   gpointer user_data);
gboolean prd_store_retire_sites_finish (PrdStore *self, GAsyncResult *result, GError **error);
gboolean prd_store_validate_replica_id (const char *replica_id, GError **error);

void prd_store_close_async (PrdStore *self,
                            GCancellable *cancellable,
                            GAsyncReadyCallback callback,
                            gpointer user_data);
gboolean prd_store_close_finish (PrdStore *self, GAsyncResult *result, GError **error);

G_END_DECLS
