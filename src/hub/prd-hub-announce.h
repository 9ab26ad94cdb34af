/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Private to the social features of src/hub/ (comments, approvals,
 * notifications): what a change announces, and the JSON shapes of the
 * seed's notifications and activities. Not a feature: it calls no feature
 * and sends nothing.
 */
#pragma once

#include <json-glib/json-glib.h>

#include "prd-notification-store.h"

G_BEGIN_DECLS

/**
 * PrdHubAnnounce:
 * @org: the organization everything is announced in
 * @users: (element-type utf8): the user each notification goes to,
 *   parallel to @notifications (each user at most once)
 * @notifications: (element-type JsonObject): the seed's notification objects
 * @activities: (element-type JsonObject): the seed's `activity` objects
 * @notification_records: (element-type PrdNotificationRecord): the same
 *   notifications for the store
 * @activity_records: (element-type PrdActivityRecord): the same activities
 *   for the store
 *
 * What one write announces: stored with the write (one transaction), and
 * delivered to `/notifications` once it has committed.
 */
typedef struct
{
  char *org;
  GPtrArray *users;
  GPtrArray *notifications;
  GPtrArray *activities;
  GPtrArray *notification_records;
  GPtrArray *activity_records;

  /*< private >*/
  gatomicrefcount ref_count;
} PrdHubAnnounce;

#define PRD_TYPE_HUB_ANNOUNCE (prd_hub_announce_get_type ())

GType prd_hub_announce_get_type (void) G_GNUC_CONST;
PrdHubAnnounce *prd_hub_announce_new (const char *org);
PrdHubAnnounce *prd_hub_announce_ref (PrdHubAnnounce *self);
void prd_hub_announce_unref (PrdHubAnnounce *self);
void prd_hub_announce_notify (PrdHubAnnounce *self, const char *user_id, JsonObject *notification);
void prd_hub_announce_activity (PrdHubAnnounce *self, JsonObject *activity);
void prd_hub_announce_record (PrdHubAnnounce *self,
                              PrdNotificationStore *feed,
                              gpointer instance,
                              guint signal_id,
                              const char *who,
                              GCancellable *cancellable);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrdHubAnnounce, prd_hub_announce_unref)

/* ---- the seed's shapes ---- */

JsonObject *prd_hub_notification_new (const char *type,
                                      const char *title,
                                      const char *message,
                                      JsonObject *data);
JsonObject *prd_hub_activity_new (const char *type,
                                  const char *actor_id,
                                  const char *actor_name,
                                  JsonObject *object);
JsonObject *prd_hub_prd_object_new (const char *prd_id, const char *title);
JsonObject *prd_hub_person_new (const char *id, const char *name);

/* ---- small helpers ---- */

char *prd_hub_new_id (const char *prefix);
gboolean prd_hub_id_is_valid (const char *id, const char *prefix);
void prd_hub_json_set_time (JsonObject *object, const char *member, gint64 usec);
JsonNode *prd_hub_object_node (JsonObject *object);
char *prd_hub_object_to_string (JsonObject *object);
JsonNode *prd_hub_payload_parse (const char *text);

G_END_DECLS
