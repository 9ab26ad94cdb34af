/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Approvals on /prds: `approve-prd` (admins only). The approval, the
 * owner's `prd_approved` notification and the `prd_approved` activity are
 * one store write; once it has committed the PRD's room hears
 * `prd-approved`, and #PrdHubApprovals::notifications-recorded hands the
 * announce to whoever delivers it (the notifications feature, connected in
 * prd-hub.c).
 */
#define G_LOG_DOMAIN "prd-hub-approvals"

#include "config.h"

#include "prd-comment.h"
#include "prd-error.h"
#include "prd-hub-announce.h"
#include "prd-hub-context.h"

#include "prd-hub-approvals.h"

struct _PrdHubApprovals
{
  GObject parent_instance;

  PrdHubRoomRegistry *rooms;        /* (owned) */
  PrdStore *store;                  /* (owned) */
  PrdApprovalStore *approval_store; /* (owned) */
};

enum
{
  SIGNAL_NOTIFICATIONS_RECORDED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (PrdHubApprovals, prd_hub_approvals, G_TYPE_OBJECT)

typedef struct
{
  PrdHubApprovals *self; /* (owned) */
  PrdSioSocket *socket;  /* (owned) */
  gint64 ack_id;
  PrdIdentity *identity; /* (owned) */
  char *prd_id;
  char *comment;
  char *title;
  gint64 approved_at;
  PrdHubAnnounce *announce; /* (owned) (nullable) */
} Approve;

static void
approve_free (Approve *approve)
{
  g_clear_object (&approve->self);
  g_clear_object (&approve->socket);
  g_clear_pointer (&approve->identity, prd_identity_free);
  g_free (approve->prd_id);
  g_free (approve->comment);
  g_free (approve->title);
  g_clear_pointer (&approve->announce, prd_hub_announce_unref);
  g_free (approve);
}

static void
on_approval_written (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Approve *approve = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) node = NULL;
  JsonObject *event, *ack;

  if (!prd_approval_store_add_finish (PRD_APPROVAL_STORE (source), result, &error))
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          /* Deleted after it was read: the answer it would have had a
           * moment later, no failure of the hub. */
          if (!g_error_matches (error, PRD_ERROR, PRD_ERROR_PRD_NOT_FOUND))
            g_warning ("Cannot store an approval: %s", error->message);
          prd_hub_reply_error (approve->socket, approve->ack_id, "approve-prd", NULL, error);
        }
      approve_free (approve);
      return;
    }
  g_signal_emit (approve->self, signals[SIGNAL_NOTIFICATIONS_RECORDED], 0, approve->announce);
  event = json_object_new ();
  json_object_set_string_member (event, "prdId", approve->prd_id);
  json_object_set_object_member (
      event, "approver", prd_hub_person_new (approve->identity->user_id, approve->identity->name));
  if (approve->comment != NULL)
    json_object_set_string_member (event, "comment", approve->comment);
  prd_hub_json_set_time (event, "approvedAt", approve->approved_at);
  node = prd_hub_object_node (event);
  prd_hub_room_registry_emit (approve->self->rooms, approve->prd_id, "prd-approved", node);
  ack = json_object_new ();
  json_object_set_string_member (ack, "prdId", approve->prd_id);
  prd_hub_json_set_time (ack, "approvedAt", approve->approved_at);
  prd_hub_reply_ok (approve->socket, approve->ack_id, ack);
  approve_free (approve);
}

static void
on_approve_info (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Approve *approve = user_data;
  PrdHubApprovals *self = approve->self;
  g_autoptr (PrdStoreInfo) info = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *message = NULL;
  PrdApprovalRecord record = { 0 };
  JsonObject *data;

  info = prd_store_get_finish (PRD_STORE (source), result, &error);
  if (info == NULL || !g_str_equal (info->org, approve->identity->org))
    {
      if (info != NULL || g_error_matches (error, PRD_ERROR, PRD_ERROR_PRD_NOT_FOUND))
        {
          g_clear_error (&error);
          error = prd_error_new_prd_not_found (approve->prd_id);
        }
      prd_hub_reply_error (approve->socket, approve->ack_id, "approve-prd", NULL, error);
      approve_free (approve);
      return;
    }
  approve->title = g_strdup (info->title);
  approve->approved_at = g_get_real_time ();
  approve->announce = prd_hub_announce_new (info->org);
  record.prd_id = info->id;
  record.approver_id = approve->identity->user_id;
  record.approver_name = approve->identity->name;
  record.comment = approve->comment;
  record.created_at = approve->approved_at;
  data = json_object_new ();
  json_object_set_string_member (data, "prdId", info->id);
  json_object_set_string_member (data, "approver", approve->identity->name);
  message = g_strdup_printf ("Your PRD \"%s\" has been approved", info->title);
  prd_hub_announce_notify (
      approve->announce, info->owner,
      prd_hub_notification_new ("prd_approved", "PRD Approved", message, data));
  prd_hub_announce_activity (approve->announce,
                             prd_hub_activity_new ("prd_approved", approve->identity->user_id,
                                                   approve->identity->name,
                                                   prd_hub_prd_object_new (info->id, info->title)));
  prd_approval_store_add_async (
      self->approval_store, &record, approve->announce->notification_records,
      approve->announce->activity_records, NULL, on_approval_written, approve);
}

static void
on_approve_prd (PrdSioSocket *socket,
                const char *event,
                JsonArray *args,
                GPtrArray *attachments,
                gint64 ack_id,
                gpointer user_data)
{
  PrdHubApprovals *self = user_data;
  const PrdIdentity *identity = prd_hub_socket_get_identity (socket);
  g_autoptr (GError) error = NULL;
  const char *prd_id, *comment;
  JsonObject *payload;
  Approve *approve;

  payload = prd_hub_payload_get_object (socket, event, args, ack_id);
  if (payload == NULL)
    return;
  prd_id = prd_hub_json_get_string (payload, "prdId", &error);
  if (prd_id == NULL || !prd_store_validate_prd_id (prd_id, &error))
    goto fail;
  if (!prd_hub_json_get_optional_string (payload, "comment", &comment, &error) ||
      (comment != NULL && !prd_comment_validate_content ("comment", comment, &error)))
    goto fail;
  if (identity->role != PRD_ROLE_ADMIN)
    {
      g_set_error_literal (&error, PRD_ERROR, PRD_ERROR_FORBIDDEN, "Only admins approve PRDs");
      goto fail;
    }
  approve = g_new0 (Approve, 1);
  approve->self = g_object_ref (self);
  approve->socket = g_object_ref (socket);
  approve->ack_id = ack_id;
  approve->identity = prd_identity_copy (identity);
  approve->prd_id = g_strdup (prd_id);
  approve->comment = g_strdup (comment);
  prd_store_get_async (self->store, prd_id, NULL, on_approve_info, approve);
  return;

fail:
  prd_hub_reply_error (socket, ack_id, event, NULL, error);
}

/* ---- object ------------------------------------------------------------------------- */

static const PrdHubEventEntry events[] = {
  { "approve-prd", on_approve_prd },
};

static void
prd_hub_approvals_dispose (GObject *object)
{
  PrdHubApprovals *self = PRD_HUB_APPROVALS (object);

  if (self->rooms != NULL)
    {
      PrdSioNamespace *nsp = prd_hub_room_registry_get_namespace (self->rooms);

      if (nsp != NULL)
        prd_hub_remove_events (nsp, events, G_N_ELEMENTS (events));
    }
  g_clear_object (&self->rooms);
  g_clear_object (&self->store);
  g_clear_object (&self->approval_store);

  G_OBJECT_CLASS (prd_hub_approvals_parent_class)->dispose (object);
}

static void
prd_hub_approvals_class_init (PrdHubApprovalsClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = prd_hub_approvals_dispose;

  /**
   * PrdHubApprovals::notifications-recorded:
   * @announce: (type PrdHubAnnounce): the notifications and activities an
   *   approval stored with it
   *
   * Emitted once an approval has committed, before its room hears of it:
   * what it announced is on disk and can be delivered.
   */
  signals[SIGNAL_NOTIFICATIONS_RECORDED] =
      g_signal_new ("notifications-recorded", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                    NULL, NULL, G_TYPE_NONE, 1, PRD_TYPE_HUB_ANNOUNCE | G_SIGNAL_TYPE_STATIC_SCOPE);
}

static void
prd_hub_approvals_init (PrdHubApprovals *self)
{
}

/**
 * prd_hub_approvals_new:
 * @rooms: the rooms of /prds (`prd-approved` goes to the PRD's room)
 * @store: the PRDs (who owns one, its title)
 * @approvals: where approvals are kept
 *
 * Installs `approve-prd` on the namespace of @rooms.
 *
 * Returns: (transfer full): the approvals feature
 */
PrdHubApprovals *
prd_hub_approvals_new (PrdHubRoomRegistry *rooms, PrdStore *store, PrdApprovalStore *approvals)
{
  PrdHubApprovals *self;

  g_return_val_if_fail (PRD_IS_HUB_ROOM_REGISTRY (rooms), NULL);
  g_return_val_if_fail (PRD_IS_STORE (store), NULL);
  g_return_val_if_fail (PRD_IS_APPROVAL_STORE (approvals), NULL);

  self = g_object_new (PRD_TYPE_HUB_APPROVALS, NULL);
  self->rooms = g_object_ref (rooms);
  self->store = g_object_ref (store);
  self->approval_store = g_object_ref (approvals);
  prd_hub_add_events (prd_hub_room_registry_get_namespace (rooms), events, G_N_ELEMENTS (events),
                      self);
  return self;
}
