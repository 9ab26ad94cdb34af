/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/*
 * PrdConflictStore: the open conflicts between two users' edits.
 *
 * A conflict is written before either party hears of it and removed when it
 * is resolved (with the parties of the other conflicts the resolution
 * changed, prd_conflict_store_resolve_async()); the hub holds the open ones in memory and reads
 * them all once, when it starts (prd_conflict_store_list_async()). Its two parties (who, what and
 * where) are encoded by the hub and kept as they are.
 *
 * Every method is asynchronous and completes on the main context it was
 * called from; a write that fails changes nothing.
 */

/**
 * PrdConflictRecord:
 * @id: `conflict_…`
 * @prd_id: the PRD
 * @position: where the conflict was when it was raised (UTF-16 units)
 * @created_at: milliseconds since the Unix epoch
 * @parties: the two edits, encoded by the hub (opaque here)
 */
typedef struct
{
  char *id;
  char *prd_id;
  guint32 position;
  gint64 created_at;
  char *parties;
} PrdConflictRecord;

PrdConflictRecord *prd_conflict_record_copy (const PrdConflictRecord *record);
void prd_conflict_record_free (PrdConflictRecord *record);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrdConflictRecord, prd_conflict_record_free)

#define PRD_TYPE_CONFLICT_STORE (prd_conflict_store_get_type ())

G_DECLARE_INTERFACE (PrdConflictStore, prd_conflict_store, PRD, CONFLICT_STORE, GObject)

/**
 * PrdConflictStoreInterface:
 * @list_async: every open conflict
 * @add_async: a new open conflict
 * @remove_async: a conflict resolved
 * @resolve_async: a conflict resolved, and other ones' parties rewritten
 *
 * Arguments reach the implementation already checked.
 */
struct _PrdConflictStoreInterface
{
  GTypeInterface parent_iface;

  void (*list_async) (PrdConflictStore *self,
                      GCancellable *cancellable,
                      GAsyncReadyCallback callback,
                      gpointer user_data);
  GPtrArray *(*list_finish) (PrdConflictStore *self, GAsyncResult *result, GError **error);

  void (*add_async) (PrdConflictStore *self,
                     const PrdConflictRecord *conflict,
                     GCancellable *cancellable,
                     GAsyncReadyCallback callback,
                     gpointer user_data);
  gboolean (*add_finish) (PrdConflictStore *self, GAsyncResult *result, GError **error);

  void (*remove_async) (PrdConflictStore *self,
                        const char *id,
                        GCancellable *cancellable,
                        GAsyncReadyCallback callback,
                        gpointer user_data);
  gboolean (*remove_finish) (PrdConflictStore *self, GAsyncResult *result, GError **error);

  void (*resolve_async) (PrdConflictStore *self,
                         const char *id,
                         GPtrArray *rewritten,
                         GCancellable *cancellable,
                         GAsyncReadyCallback callback,
                         gpointer user_data);
  gboolean (*resolve_finish) (PrdConflictStore *self, GAsyncResult *result, GError **error);
};

void prd_conflict_store_list_async (PrdConflictStore *self,
                                    GCancellable *cancellable,
                                    GAsyncReadyCallback callback,
                                    gpointer user_data);
GPtrArray *
prd_conflict_store_list_finish (PrdConflictStore *self, GAsyncResult *result, GError **error);

void prd_conflict_store_add_async (PrdConflictStore *self,
                                   const PrdConflictRecord *conflict,
                                   GCancellable *cancellable,
                                   GAsyncReadyCallback callback,
                                   gpointer user_data);
gboolean
prd_conflict_store_add_finish (PrdConflictStore *self, GAsyncResult *result, GError **error);

void prd_conflict_store_remove_async (PrdConflictStore *self,
                                      const char *id,
                                      GCancellable *cancellable,
                                      GAsyncReadyCallback callback,
                                      gpointer user_data);
gboolean
prd_conflict_store_remove_finish (PrdConflictStore *self, GAsyncResult *result, GError **error);

void prd_conflict_store_resolve_async (PrdConflictStore *self,
                                       const char *id,
                                       GPtrArray *rewritten,
                                       GCancellable *cancellable,
                                       GAsyncReadyCallback callback,
                                       gpointer user_data);
gboolean
prd_conflict_store_resolve_finish (PrdConflictStore *self, GAsyncResult *result, GError **error);

G_END_DECLS
