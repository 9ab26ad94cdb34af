/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Comments (on /prds), notifications and the activity feed (on
 * /notifications), approvals, and their REST routes.
 *
 * Comments are held in memory (all of them, loaded when the hub starts)
 * because every `joined-prd` carries the PRD's open comments and every
 * reply or resolve names only a comment id. Each change is written to the
 * store first; the memory, the broadcast and the ack follow its commit, so
 * nobody hears of a comment the hub could lose. Positions are re-resolved
 * from the comment's CRDT anchors each time a comment is sent.
 *
 * Notifications and activities are only written and read (through
 * PrdNotificationStore, or with the change they announce), never held.
 * Notifications go to the Socket.IO room `user:<org>/<userId>`, activities
 * to `org:<org>`, both on /notifications; `subscribe` joins them.
 */
#define G_LOG_DOMAIN "prd-hub-social"

#include "config.h"

#include <stdio.h>
#include <string.h>

#include "prd-comment.h"
#include "prd-error.h"
#include "prd-hub-context.h"
#include "prd-hub-rest.h"
#include "prd-json.h"

#include "prd-hub-social.h"

#define SOCIAL_KEY "prd-hub-social"

typedef struct
{
  char *id;
  char *author_id;
  char *author_name;
  char *content;
  gint64 created_at;
} Reply;

typedef struct
{
  char *id;
  char *prd_id;
  char *org;
  char *author_id;
  char *author_name;
  char *author_avatar;
  char *content;
  PrdCommentAnchor anchor;
  gint64 created_at;
  char *resolved_by_id;
  char *resolved_by_name;
  gint64 resolved_at;
  gboolean resolving; /* a resolve is being written */
  GPtrArray *replies; /* Reply */
} Comment;

struct _PrdHubSocial
{
  GObject parent_instance;

  PrdHubRoomRegistry *rooms;        /* (owned) */
  PrdStore *store;                  /* (owned) */
  PrdCommentStore *comment_store;   /* (owned) */
  PrdApprovalStore *approval_store; /* (owned) */
  PrdNotificationStore *feed;       /* (owned) */
  PrdSioNamespace *notifications;   /* (unowned): weak pointer */
  GHashTable *comments;             /* id → (owned) Comment; never removed */
  GHashTable *by_prd;               /* prd id → GPtrArray of (unowned) Comment */
  GCancellable *cancellable;
};

G_DEFINE_FINAL_TYPE (PrdHubSocial, prd_hub_social, G_TYPE_OBJECT)

static void
reply_free (Reply *reply)
{
  g_free (reply->id);
  g_free (reply->author_id);
  g_free (reply->author_name);
  g_free (reply->content);
  g_free (reply);
}

static void
comment_free (Comment *comment)
{
  g_free (comment->id);
  g_free (comment->prd_id);
  g_free (comment->org);
  g_free (comment->author_id);
  g_free (comment->author_name);
  g_free (comment->author_avatar);
  g_free (comment->content);
  g_free (comment->resolved_by_id);
  g_free (comment->resolved_by_name);
  g_clear_pointer (&comment->replies, g_ptr_array_unref);
  g_free (comment);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Comment, comment_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Reply, reply_free)

/* ---- helpers ----------------------------------------------------------------- */

static char *
new_id (const char *prefix)
{
  g_autofree char *uuid = g_uuid_string_random ();
  GString *id = g_string_new (prefix);

  for (const char *p = uuid; *p != '\0'; p++)
    if (*p != '-')
      g_string_append_c (id, *p);
  return g_string_free (id, FALSE);
}

static gboolean
valid_id (const char *id, const char *prefix)
{
  gsize len = strlen (prefix);

  if (!g_str_has_prefix (id, prefix) || strlen (id) <= len || strlen (id) > 64)
    return FALSE;
  for (const char *p = id + len; *p != '\0'; p++)
    if (!g_ascii_isalnum (*p) && *p != '_' && *p != '-')
      return FALSE;
  return TRUE;
}

static char *
anchor_to_string (const PrdCommentAnchor *a)
{
  return g_strdup_printf ("%d:%u:%u:%d %d %d:%u:%u:%d %d:%u:%u:%d", a->position.has_id,
                          a->position.id.site, a->position.id.clock, a->position.assoc,
                          a->has_selection, a->start.has_id, a->start.id.site, a->start.id.clock,
                          a->start.assoc, a->end.has_id, a->end.id.site, a->end.id.clock,
                          a->end.assoc);
}

static gboolean
anchor_from_string (const char *text, PrdCommentAnchor *a)
{
  int ph, pa, sel, sh, sa, eh, ea;

  memset (a, 0, sizeof *a);
  if (text == NULL ||
      sscanf (text, "%d:%u:%u:%d %d %d:%u:%u:%d %d:%u:%u:%d", &ph, &a->position.id.site,
              &a->position.id.clock, &pa, &sel, &sh, &a->start.id.site, &a->start.id.clock, &sa,
              &eh, &a->end.id.site, &a->end.id.clock, &ea) != 13)
    return FALSE;
  a->position.has_id = ph != 0;
  a->position.assoc = pa ? PRD_CRDT_ASSOC_BEFORE : PRD_CRDT_ASSOC_AFTER;
  a->has_selection = sel != 0;
  a->start.has_id = sh != 0;
  a->start.assoc = sa ? PRD_CRDT_ASSOC_BEFORE : PRD_CRDT_ASSOC_AFTER;
  a->end.has_id = eh != 0;
  a->end.assoc = ea ? PRD_CRDT_ASSOC_BEFORE : PRD_CRDT_ASSOC_AFTER;
  return TRUE;
}

static void
add_time (JsonObject *object, const char *member, gint64 usec)
{
  g_autofree char *text = prd_time_format (usec);

  json_object_set_string_member (object, member, text);
}

static JsonObject *
person (const char *id, const char *name)
{
  JsonObject *object = json_object_new ();

  json_object_set_string_member (object, "id", id);
  json_object_set_string_member (object, "name", name);
  return object;
}

static JsonNode *
object_node (JsonObject *object)
{
  JsonNode *node = json_node_new (JSON_NODE_OBJECT);

  json_node_take_object (node, object);
  return node;
}

static char *
node_to_string (JsonObject *object)
{
  g_autoptr (JsonNode) node = json_node_new (JSON_NODE_OBJECT);

  json_node_set_object (node, object);
  return json_to_string (node, FALSE);
}

static JsonNode *
parse_json (const char *text)
{
  if (text == NULL)
    return NULL;
  return prd_json_parse (text, -1, 0, NULL);
}

/* A user is (organization, user id). The organization's length keeps the
 * name unambiguous: "a/b" + "c" and "a" + "b/c" are two rooms. */
static char *
user_room (const char *org, const char *user_id)
{
  return g_strdup_printf ("user:%zu:%s/%s", strlen (org), org, user_id);
}

static char *
org_room (const char *org)
{
  return g_strconcat ("org:", org, NULL);
}

/* ---- notifications and activities ------------------------------------------------- */

/* Returns: (transfer full): the seed's notification object */
static JsonObject *
notification_new (const char *type, const char *title, const char *message, JsonObject *data)
{
  JsonObject *object = json_object_new ();
  g_autofree char *id = new_id ("notif_");
  g_autofree char *now = prd_time_format_now ();

  json_object_set_string_member (object, "id", id);
  json_object_set_string_member (object, "type", type);
  json_object_set_string_member (object, "title", title);
  json_object_set_string_member (object, "message", message);
  json_object_set_object_member (object, "data", data);
  json_object_set_string_member (object, "timestamp", now);
  return object;
}

/* Returns: (transfer full): the seed's `activity` object */
static JsonObject *
activity_new (const char *type, const char *actor_id, const char *actor_name, JsonObject *object)
{
  JsonObject *activity = json_object_new ();
  g_autofree char *id = new_id ("activity_");
  g_autofree char *now = prd_time_format_now ();

  json_object_set_string_member (activity, "id", id);
  json_object_set_string_member (activity, "type", type);
  json_object_set_object_member (activity, "actor", person (actor_id, actor_name));
  json_object_set_object_member (activity, "object", object);
  json_object_set_string_member (activity, "timestamp", now);
  return activity;
}

static JsonObject *
prd_object (const char *prd_id, const char *title)
{
  JsonObject *object = json_object_new ();

  json_object_set_string_member (object, "type", "prd");
  json_object_set_string_member (object, "id", prd_id);
  json_object_set_string_member (object, "title", title);
  return object;
}

/* What a write announces: stored with it, sent once it has committed. */
typedef struct
{
  char *org;
  GPtrArray *users;                /* user ids, parallel to notifications */
  GPtrArray *notifications;        /* JsonObject */
  GPtrArray *activities;           /* JsonObject */
  GPtrArray *notification_records; /* PrdNotificationRecord, for the store */
  GPtrArray *activity_records;     /* PrdActivityRecord, for the store */
} Announce;

static Announce *
announce_new (const char *org)
{
  Announce *announce = g_new0 (Announce, 1);

  announce->org = g_strdup (org);
  announce->users = g_ptr_array_new_with_free_func (g_free);
  announce->notifications = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);
  announce->activities = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);
  announce->notification_records =
      g_ptr_array_new_with_free_func ((GDestroyNotify) prd_notification_record_free);
  announce->activity_records =
      g_ptr_array_new_with_free_func ((GDestroyNotify) prd_activity_record_free);
  return announce;
}

static void
announce_free (Announce *announce)
{
  g_free (announce->org);
  g_ptr_array_unref (announce->users);
  g_ptr_array_unref (announce->notifications);
  g_ptr_array_unref (announce->activities);
  g_ptr_array_unref (announce->notification_records);
  g_ptr_array_unref (announce->activity_records);
  g_free (announce);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Announce, announce_free)

/* Queues a notification for @user_id (once per user per announce). */
static void
announce_notify (Announce *announce, const char *user_id, JsonObject *n)
{
  g_autofree char *payload = NULL;

  for (guint i = 0; i < announce->users->len; i++)
    if (g_str_equal (g_ptr_array_index (announce->users, i), user_id))
      {
        json_object_unref (n);
        return;
      }
  payload = node_to_string (n);
  g_ptr_array_add (announce->notification_records,
                   prd_notification_record_new (json_object_get_string_member (n, "id"), user_id,
                                                announce->org, payload));
  g_ptr_array_add (announce->users, g_strdup (user_id));
  g_ptr_array_add (announce->notifications, n);
}

static void
announce_activity (Announce *announce, JsonObject *activity)
{
  g_autofree char *payload = node_to_string (activity);

  g_ptr_array_add (announce->activity_records,
                   prd_activity_record_new (json_object_get_string_member (activity, "id"),
                                            announce->org, payload));
  g_ptr_array_add (announce->activities, activity);
}

static void
announce_send (PrdSioNamespace *nsp, Announce *announce)
{
  if (nsp == NULL)
    return;
  for (guint i = 0; i < announce->notifications->len; i++)
    {
      g_autofree char *room = user_room (announce->org, g_ptr_array_index (announce->users, i));
      g_autoptr (JsonNode) node = json_node_new (JSON_NODE_OBJECT);

      json_node_set_object (node, g_ptr_array_index (announce->notifications, i));
      prd_sio_namespace_emit_one (nsp, room, NULL, "notification", node);
    }
  for (guint i = 0; i < announce->activities->len; i++)
    {
      g_autofree char *room = org_room (announce->org);
      JsonObject *update = json_object_new ();
      g_autoptr (JsonNode) node = NULL;

      json_object_set_string_member (update, "organizationId", announce->org);
      json_object_set_object_member (update, "activity",
                                     json_object_ref (g_ptr_array_index (announce->activities, i)));
      node = object_node (update);
      prd_sio_namespace_emit_one (nsp, room, NULL, "activity-update", node);
    }
}

/* ---- comments ------------------------------------------------------------------ */

/* Returns: (transfer full): the comment as the seed's `comment-added` */
static JsonObject *
comment_to_json (Comment *comment, PrdDocument *document, gboolean with_replies)
{
  JsonObject *object = json_object_new ();
  JsonObject *author = person (comment->author_id, comment->author_name);
  g_auto (PrdCommentPlace) place = { 0 };

  if (comment->author_avatar != NULL)
    json_object_set_string_member (author, "avatar", comment->author_avatar);
  else
    json_object_set_null_member (author, "avatar");
  if (document != NULL)
    prd_comment_anchor_resolve (&comment->anchor, prd_document_get_crdt (document), &place);
  json_object_set_string_member (object, "commentId", comment->id);
  json_object_set_string_member (object, "prdId", comment->prd_id);
  json_object_set_object_member (object, "author", author);
  json_object_set_int_member (object, "position", place.position);
  json_object_set_string_member (object, "content", comment->content);
  if (comment->anchor.has_selection)
    {
      JsonObject *selection = json_object_new ();

      json_object_set_int_member (selection, "start", place.start);
      json_object_set_int_member (selection, "end", place.end);
      json_object_set_string_member (selection, "text", place.text != NULL ? place.text : "");
      json_object_set_object_member (object, "selection", selection);
    }
  add_time (object, "createdAt", comment->created_at);
  if (place.detached)
    json_object_set_boolean_member (object, "detached", TRUE);
  if (with_replies)
    {
      JsonArray *replies = json_array_new ();

      for (guint i = 0; i < comment->replies->len; i++)
        {
          Reply *reply = g_ptr_array_index (comment->replies, i);
          JsonObject *r = json_object_new ();

          json_object_set_string_member (r, "id", reply->id);
          json_object_set_object_member (r, "author",
                                         person (reply->author_id, reply->author_name));
          json_object_set_string_member (r, "content", reply->content);
          add_time (r, "createdAt", reply->created_at);
          json_array_add_object_element (replies, r);
        }
      json_object_set_array_member (object, "replies", replies);
    }
  return object;
}

static gint
compare_comments (gconstpointer a, gconstpointer b)
{
  const Comment *ca = *(Comment **) a, *cb = *(Comment **) b;

  if (ca->created_at != cb->created_at)
    return ca->created_at < cb->created_at ? -1 : 1;
  return strcmp (ca->id, cb->id);
}

/* Returns: (transfer full): the open comments of @prd_id, oldest first */
static JsonArray *
open_comments (PrdHubSocial *self, const char *prd_id, PrdDocument *document)
{
  GPtrArray *all = g_hash_table_lookup (self->by_prd, prd_id);
  g_autoptr (GPtrArray) list = g_ptr_array_new ();
  JsonArray *array = json_array_new ();

  for (guint i = 0; all != NULL && i < all->len; i++)
    {
      Comment *comment = g_ptr_array_index (all, i);

      if (comment->resolved_by_id == NULL)
        g_ptr_array_add (list, comment);
    }
  g_ptr_array_sort (list, compare_comments);
  for (guint i = 0; i < list->len; i++)
    json_array_add_object_element (array,
                                   comment_to_json (g_ptr_array_index (list, i), document, TRUE));
  return array;
}

/* Takes @comment into the tables. */
static void
comment_add (PrdHubSocial *self, Comment *comment)
{
  GPtrArray *list = g_hash_table_lookup (self->by_prd, comment->prd_id);

  if (list == NULL)
    {
      list = g_ptr_array_new ();
      g_hash_table_insert (self->by_prd, g_strdup (comment->prd_id), list);
    }
  g_ptr_array_add (list, comment);
  g_hash_table_replace (self->comments, comment->id, comment);
}

/**
 * prd_hub_social_add_open_comments:
 * @joined: the `joined-prd` payload of @room
 *
 * Adds the open comments of the PRD (#PrdHubRoomRegistry::member-joined).
 */
void
prd_hub_social_add_open_comments (PrdHubSocial *self, PrdHubRoom *room, JsonObject *joined)
{
  g_return_if_fail (PRD_IS_HUB_SOCIAL (self));

  json_object_set_array_member (
      joined, "comments",
      open_comments (self, prd_hub_room_get_prd_id (room), prd_hub_room_get_document (room)));
}

static void
room_emit (PrdHubSocial *self, const char *prd_id, const char *event, JsonObject *payload)
{
  g_autoptr (JsonNode) node = object_node (payload);

  prd_hub_room_registry_emit (self->rooms, prd_id, event, node);
}

/* The document of @prd_id if @socket is in its (open) room, else %NULL. */
static PrdDocument *
joined_document (PrdHubSocial *self, PrdSioSocket *socket, const char *prd_id, PrdRoom **members)
{
  PrdHubRoom *room = prd_hub_room_registry_get_joined (self->rooms, socket, prd_id, NULL);

  if (room == NULL || !prd_hub_room_is_open (room))
    return NULL;
  *members = prd_hub_room_get_members (room);
  return prd_hub_room_get_document (room);
}

/* Mentioned users: `@word` names a user by id, or by display name with the
 * blanks taken out (case-insensitive), among the users present in the
 * PRD's room; ids also match users who ever edited the PRD (have a site).
 * The author is never notified of their own mention. */
static GPtrArray *
resolve_mentions (PrdRoom *room, PrdDocument *document, const char *content, const char *author)
{
  g_autoptr (GPtrArray) names = prd_comment_parse_mentions (content);
  g_autoptr (JsonNode) users = prd_room_build_active_users (room);
  JsonArray *array = JSON_NODE_HOLDS_ARRAY (users) ? json_node_get_array (users) : NULL;
  GPtrArray *found = g_ptr_array_new_with_free_func (g_free);

  for (guint i = 0; i < names->len; i++)
    {
      const char *name = g_ptr_array_index (names, i);
      const char *match = NULL;

      for (guint j = 0; array != NULL && j < json_array_get_length (array) && match == NULL; j++)
        {
          JsonObject *user = json_array_get_object_element (array, j);
          const char *id = json_object_get_string_member_with_default (user, "userId", "");
          const char *display = json_object_get_string_member_with_default (user, "name", "");
          g_autoptr (GString) squeezed = g_string_new (NULL);
          g_autofree char *a = NULL, *b = NULL;

          for (const char *p = display; *p != '\0'; p = g_utf8_next_char (p))
            if (!g_unichar_isspace (g_utf8_get_char (p)))
              g_string_append_unichar (squeezed, g_utf8_get_char (p));
          a = g_utf8_casefold (squeezed->str, -1);
          b = g_utf8_casefold (name, -1);
          if (g_str_equal (id, name) || (*a != '\0' && g_str_equal (a, b)))
            match = id;
        }
      for (guint site = 0; match == NULL && site < PRD_CRDT_MAX_SITES; site++)
        {
          const char *owner = prd_document_get_site_owner (document, site);

          if (owner != NULL && g_str_equal (owner, name) && !g_str_equal (owner, PRD_HUB_SITE_USER))
            match = owner;
        }
      if (match != NULL && !g_str_equal (match, author))
        {
          gboolean seen = FALSE;

          for (guint k = 0; k < found->len && !seen; k++)
            seen = g_str_equal (g_ptr_array_index (found, k), match);
          if (!seen)
            g_ptr_array_add (found, g_strdup (match));
        }
    }
  return found;
}

static void
notify_mentions (Announce *announce,
                 GPtrArray *mentioned,
                 const PrdIdentity *identity,
                 PrdDocument *document,
                 const char *comment_id)
{
  for (guint i = 0; i < mentioned->len; i++)
    {
      JsonObject *data = json_object_new ();
      g_autofree char *message =
          g_strdup_printf ("%s mentioned you in a comment on \"%s\"", identity->name,
                           prd_document_get_title (document));

      json_object_set_string_member (data, "prdId", prd_document_get_id (document));
      json_object_set_string_member (data, "commentId", comment_id);
      json_object_set_string_member (data, "author", identity->name);
      json_object_set_string_member (data, "authorId", identity->user_id);
      announce_notify (announce, g_ptr_array_index (mentioned, i),
                       notification_new ("mention", "You were mentioned", message, data));
    }
}

typedef enum
{
  WRITE_ADD,
  WRITE_REPLY,
  WRITE_RESOLVE,
} WriteKind;

typedef struct
{
  PrdHubSocial *self; /* (owned) */
  WriteKind kind;
  PrdSioSocket *socket; /* (owned) */
  gint64 ack_id;
  Comment *comment; /* (owned) for WRITE_ADD, else (nullable) a copy of the key */
  char *comment_id;
  Reply *reply; /* (owned) (nullable) */
  char *resolved_by_id;
  char *resolved_by_name;
  gint64 resolved_at;
  Announce *announce; /* (owned) */
} Write;

static void
write_free (Write *write)
{
  g_clear_object (&write->self);
  g_clear_object (&write->socket);
  g_clear_pointer (&write->comment, comment_free);
  g_free (write->comment_id);
  g_clear_pointer (&write->reply, reply_free);
  g_free (write->resolved_by_id);
  g_free (write->resolved_by_name);
  g_clear_pointer (&write->announce, announce_free);
  g_free (write);
}

static const char *const write_events[] = { "add-comment", "reply-comment", "resolve-comment" };

static void
on_written (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Write *write = user_data;
  PrdHubSocial *self = write->self;
  PrdCommentStore *store = PRD_COMMENT_STORE (source);
  g_autoptr (GError) error = NULL;
  const char *event = write_events[write->kind];
  gboolean done = FALSE;
  Comment *comment;
  JsonObject *payload, *ack;

  switch (write->kind)
    {
      case WRITE_ADD:
        done = prd_comment_store_add_finish (store, result, &error);
        break;
      case WRITE_REPLY:
        done = prd_comment_store_add_reply_finish (store, result, &error);
        break;
      case WRITE_RESOLVE:
        done = prd_comment_store_resolve_finish (store, result, &error);
        break;
      default:
        g_assert_not_reached ();
    }
  if (!done && write->kind == WRITE_RESOLVE && self->comments != NULL)
    {
      comment = g_hash_table_lookup (self->comments, write->comment_id);
      if (comment != NULL)
        comment->resolving = FALSE;
    }
  if (!done || self->comments == NULL)
    {
      if (error != NULL && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          g_warning ("Cannot store a comment: %s", error->message);
          if (error->domain != PRD_ERROR)
            {
              g_clear_error (&error);
              g_set_error_literal (&error, PRD_ERROR, PRD_ERROR_STORAGE,
                                   "The comment could not be stored");
            }
          prd_hub_reply_error (write->socket, write->ack_id, event, NULL, error);
        }
      write_free (write);
      return;
    }

  ack = json_object_new ();
  switch (write->kind)
    {
      case WRITE_ADD:
        comment = write->comment;
        write->comment = NULL;
        comment_add (self, comment);
        payload = comment_to_json (
            comment, prd_hub_room_registry_peek_document (self->rooms, comment->prd_id), FALSE);
        json_object_set_string_member (ack, "commentId", comment->id);
        room_emit (self, comment->prd_id, "comment-added", payload);
        break;
      case WRITE_REPLY:
        comment = g_hash_table_lookup (self->comments, write->comment_id);
        if (comment == NULL)
          break;
        {
          Reply *reply = g_steal_pointer (&write->reply);
          JsonObject *r = json_object_new ();

          g_ptr_array_add (comment->replies, reply);
          payload = json_object_new ();
          json_object_set_string_member (payload, "commentId", comment->id);
          json_object_set_string_member (r, "id", reply->id);
          json_object_set_object_member (r, "author",
                                         person (reply->author_id, reply->author_name));
          json_object_set_string_member (r, "content", reply->content);
          add_time (r, "createdAt", reply->created_at);
          json_object_set_object_member (payload, "reply", r);
          json_object_set_string_member (ack, "replyId", reply->id);
          room_emit (self, comment->prd_id, "comment-replied", payload);
        }
        break;
      case WRITE_RESOLVE:
        comment = g_hash_table_lookup (self->comments, write->comment_id);
        if (comment == NULL)
          break;
        comment->resolving = FALSE;
        comment->resolved_by_id = g_steal_pointer (&write->resolved_by_id);
        comment->resolved_by_name = g_steal_pointer (&write->resolved_by_name);
        comment->resolved_at = write->resolved_at;
        payload = json_object_new ();
        json_object_set_string_member (payload, "commentId", comment->id);
        json_object_set_object_member (payload, "resolvedBy",
                                       person (comment->resolved_by_id, comment->resolved_by_name));
        add_time (payload, "resolvedAt", comment->resolved_at);
        room_emit (self, comment->prd_id, "comment-resolved", payload);
        break;
      default:
        g_assert_not_reached ();
    }
  announce_send (self->notifications, write->announce);
  prd_hub_reply_ok (write->socket, write->ack_id, ack);
  write_free (write);
}

/* The comment named by the payload's `commentId`, visible to @socket. */
static Comment *
lookup_comment (PrdHubSocial *self,
                PrdSioSocket *socket,
                JsonObject *payload,
                PrdDocument **out_document,
                PrdRoom **out_room,
                GError **error)
{
  const PrdIdentity *identity = prd_hub_socket_get_identity (socket);
  const char *id = prd_hub_json_get_string (payload, "commentId", error);
  Comment *comment;

  if (id == NULL)
    return NULL;
  if (!valid_id (id, "comment_"))
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INVALID_ID,
                           "commentId must look like comment_<letters and digits>");
      return NULL;
    }
  comment = g_hash_table_lookup (self->comments, id);
  /* Another organization's comment is indistinguishable from none. */
  if (comment == NULL || !g_str_equal (comment->org, identity->org))
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_NOT_FOUND, "No comment %s", id);
      return NULL;
    }
  *out_document = joined_document (self, socket, comment->prd_id, out_room);
  if (*out_document == NULL)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_NOT_JOINED,
                   "Join the comment's PRD (%s) first (join-prd)", comment->prd_id);
      return NULL;
    }
  return comment;
}

static void
on_add_comment (PrdSioSocket *socket,
                const char *event,
                JsonArray *args,
                GPtrArray *attachments,
                gint64 ack_id,
                gpointer user_data)
{
  PrdHubSocial *self = user_data;
  const PrdIdentity *identity = prd_hub_socket_get_identity (socket);
  g_autoptr (GError) error = NULL;
  g_autoptr (Comment) comment = NULL;
  g_autoptr (GPtrArray) mentioned = NULL;
  g_autofree char *anchor = NULL;
  PrdCommentRecord record = { 0 };
  JsonObject *payload, *selection = NULL;
  JsonNode *selection_node;
  const char *prd_id, *content, *text;
  guint32 position = 0, start = 0, end = 0;
  PrdDocument *document;
  PrdRoom *room = NULL;
  Write *write;

  payload = prd_hub_payload_get_object (socket, event, args, ack_id);
  if (payload == NULL)
    return;
  prd_id = prd_hub_json_get_string (payload, "prdId", &error);
  if (prd_id != NULL && !prd_store_validate_prd_id (prd_id, &error))
    prd_id = NULL;
  if (prd_id == NULL)
    goto fail;
  content = prd_hub_json_get_string (payload, "content", &error);
  if (content == NULL || !prd_comment_validate_content ("content", content, &error))
    goto fail;
  if (!prd_hub_json_get_offset (payload, "position", "position", &position, &error))
    goto fail;
  selection_node = json_object_get_member (payload, "selection");
  if (selection_node != NULL && !JSON_NODE_HOLDS_NULL (selection_node))
    {
      if (!JSON_NODE_HOLDS_OBJECT (selection_node))
        {
          g_set_error_literal (&error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
                               "selection must be an object {start, end, text}");
          goto fail;
        }
      selection = json_node_get_object (selection_node);
      if (!prd_hub_json_get_offset (selection, "start", "selection.start", &start, &error) ||
          !prd_hub_json_get_offset (selection, "end", "selection.end", &end, &error))
        goto fail;
      if (json_object_has_member (selection, "text") &&
          !prd_hub_json_get_optional_string (selection, "text", &text, &error))
        {
          g_prefix_error (&error, "selection.");
          goto fail;
        }
    }
  document = joined_document (self, socket, prd_id, &room);
  if (document == NULL)
    {
      g_set_error_literal (&error, PRD_ERROR, PRD_ERROR_NOT_JOINED,
                           "Join the PRD first (join-prd)");
      goto fail;
    }

  comment = g_new0 (Comment, 1);
  if (!prd_comment_anchor_init (&comment->anchor, prd_document_get_crdt (document), position,
                                selection != NULL, start, end, &error))
    {
      if (error->code != PRD_ERROR_INVALID_PAYLOAD)
        error->code = PRD_ERROR_INVALID_PAYLOAD;
      goto fail;
    }
  comment->id = new_id ("comment_");
  comment->prd_id = g_strdup (prd_id);
  comment->org = g_strdup (identity->org);
  comment->author_id = g_strdup (identity->user_id);
  comment->author_name = g_strdup (identity->name);
  comment->author_avatar = g_strdup (identity->avatar);
  comment->content = g_strdup (content);
  comment->created_at = g_get_real_time ();
  comment->replies = g_ptr_array_new_with_free_func ((GDestroyNotify) reply_free);

  if (comment->author_avatar != NULL && *comment->author_avatar == '\0')
    g_clear_pointer (&comment->author_avatar, g_free);
  anchor = anchor_to_string (&comment->anchor);
  record.id = comment->id;
  record.prd_id = comment->prd_id;
  record.org = comment->org;
  record.author_id = comment->author_id;
  record.author_name = comment->author_name;
  record.author_avatar = comment->author_avatar;
  record.content = comment->content;
  record.anchor = anchor;
  record.created_at = comment->created_at;
  write = g_new0 (Write, 1);
  write->self = g_object_ref (self);
  write->kind = WRITE_ADD;
  write->socket = g_object_ref (socket);
  write->ack_id = ack_id;
  write->announce = announce_new (identity->org);
  mentioned = resolve_mentions (room, document, content, identity->user_id);
  notify_mentions (write->announce, mentioned, identity, document, comment->id);
  {
    JsonObject *object = json_object_new ();

    json_object_set_string_member (object, "type", "comment");
    json_object_set_string_member (object, "id", comment->id);
    json_object_set_string_member (object, "prdId", prd_id);
    json_object_set_string_member (object, "title", prd_document_get_title (document));
    announce_activity (write->announce,
                       activity_new ("comment_added", identity->user_id, identity->name, object));
  }
  prd_comment_store_add_async (self->comment_store, &record, write->announce->notification_records,
                               write->announce->activity_records, NULL, on_written, write);
  write->comment = g_steal_pointer (&comment);
  return;

fail:
  prd_hub_reply_error (socket, ack_id, event, NULL, error);
}

static void
on_reply_comment (PrdSioSocket *socket,
                  const char *event,
                  JsonArray *args,
                  GPtrArray *attachments,
                  gint64 ack_id,
                  gpointer user_data)
{
  PrdHubSocial *self = user_data;
  const PrdIdentity *identity = prd_hub_socket_get_identity (socket);
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) mentioned = NULL;
  PrdReplyRecord record = { 0 };
  PrdDocument *document = NULL;
  PrdRoom *room = NULL;
  JsonObject *payload;
  const char *content;
  Comment *comment;
  Reply *reply;
  Write *write;

  payload = prd_hub_payload_get_object (socket, event, args, ack_id);
  if (payload == NULL)
    return;
  content = prd_hub_json_get_string (payload, "content", &error);
  if (content == NULL || !prd_comment_validate_content ("content", content, &error))
    goto fail;
  comment = lookup_comment (self, socket, payload, &document, &room, &error);
  if (comment == NULL)
    goto fail;
  if (comment->resolved_by_id != NULL)
    {
      g_set_error (&error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION,
                   "Comment %s is resolved; it takes no more replies", comment->id);
      goto fail;
    }

  reply = g_new0 (Reply, 1);
  reply->id = new_id ("reply_");
  reply->author_id = g_strdup (identity->user_id);
  reply->author_name = g_strdup (identity->name);
  reply->content = g_strdup (content);
  reply->created_at = g_get_real_time ();
  record.id = reply->id;
  record.comment_id = comment->id;
  record.author_id = reply->author_id;
  record.author_name = reply->author_name;
  record.content = reply->content;
  record.created_at = reply->created_at;
  write = g_new0 (Write, 1);
  write->self = g_object_ref (self);
  write->kind = WRITE_REPLY;
  write->socket = g_object_ref (socket);
  write->ack_id = ack_id;
  write->comment_id = g_strdup (comment->id);
  write->reply = reply;
  write->announce = announce_new (identity->org);
  if (!g_str_equal (comment->author_id, identity->user_id))
    {
      JsonObject *data = json_object_new ();
      g_autofree char *message =
          g_strdup_printf ("%s replied to your comment on \"%s\"", identity->name,
                           prd_document_get_title (document));

      json_object_set_string_member (data, "prdId", comment->prd_id);
      json_object_set_string_member (data, "commentId", comment->id);
      json_object_set_string_member (data, "replyId", reply->id);
      json_object_set_string_member (data, "author", identity->name);
      json_object_set_string_member (data, "authorId", identity->user_id);
      announce_notify (write->announce, comment->author_id,
                       notification_new ("comment_reply", "New Reply", message, data));
    }
  mentioned = resolve_mentions (room, document, content, identity->user_id);
  notify_mentions (write->announce, mentioned, identity, document, comment->id);
  prd_comment_store_add_reply_async (self->comment_store, &record,
                                     write->announce->notification_records,
                                     write->announce->activity_records, NULL, on_written, write);
  return;

fail:
  prd_hub_reply_error (socket, ack_id, event, NULL, error);
}

static void
on_resolve_comment (PrdSioSocket *socket,
                    const char *event,
                    JsonArray *args,
                    GPtrArray *attachments,
                    gint64 ack_id,
                    gpointer user_data)
{
  PrdHubSocial *self = user_data;
  const PrdIdentity *identity = prd_hub_socket_get_identity (socket);
  g_autoptr (GError) error = NULL;
  PrdDocument *document = NULL;
  PrdRoom *room = NULL;
  JsonObject *payload, *object;
  Comment *comment;
  Write *write;

  payload = prd_hub_payload_get_object (socket, event, args, ack_id);
  if (payload == NULL)
    return;
  comment = lookup_comment (self, socket, payload, &document, &room, &error);
  if (comment == NULL)
    goto fail;
  if (comment->resolved_by_id != NULL || comment->resolving)
    {
      g_set_error (&error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION, "Comment %s is already resolved",
                   comment->id);
      goto fail;
    }
  if (identity->role == PRD_ROLE_VIEWER && !g_str_equal (identity->user_id, comment->author_id))
    {
      g_set_error_literal (&error, PRD_ERROR, PRD_ERROR_FORBIDDEN,
                           "Viewers may resolve their own comments only");
      goto fail;
    }

  write = g_new0 (Write, 1);
  write->self = g_object_ref (self);
  write->kind = WRITE_RESOLVE;
  write->socket = g_object_ref (socket);
  write->ack_id = ack_id;
  write->comment_id = g_strdup (comment->id);
  write->resolved_by_id = g_strdup (identity->user_id);
  write->resolved_by_name = g_strdup (identity->name);
  write->resolved_at = g_get_real_time ();
  write->announce = announce_new (identity->org);
  comment->resolving = TRUE;
  object = json_object_new ();
  json_object_set_string_member (object, "type", "comment");
  json_object_set_string_member (object, "id", comment->id);
  json_object_set_string_member (object, "prdId", comment->prd_id);
  json_object_set_string_member (object, "title", prd_document_get_title (document));
  announce_activity (write->announce,
                     activity_new ("comment_resolved", identity->user_id, identity->name, object));
  prd_comment_store_resolve_async (self->comment_store, comment->id, identity->user_id,
                                   identity->name, write->resolved_at,
                                   write->announce->notification_records,
                                   write->announce->activity_records, NULL, on_written, write);
  return;

fail:
  prd_hub_reply_error (socket, ack_id, event, NULL, error);
}

/* ---- approvals --------------------------------------------------------------- */

typedef struct
{
  PrdHubSocial *self;   /* (owned) */
  PrdSioSocket *socket; /* (owned) */
  gint64 ack_id;
  PrdIdentity *identity; /* (owned) */
  char *prd_id;
  char *comment;
  char *title;
  gint64 approved_at;
  Announce *announce; /* (owned) (nullable) */
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
  g_clear_pointer (&approve->announce, announce_free);
  g_free (approve);
}

static void
on_approval_written (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Approve *approve = user_data;
  g_autoptr (GError) error = NULL;
  JsonObject *event, *ack;

  if (!prd_approval_store_add_finish (PRD_APPROVAL_STORE (source), result, &error))
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          g_warning ("Cannot store an approval: %s", error->message);
          prd_hub_reply_error (approve->socket, approve->ack_id, "approve-prd", NULL, error);
        }
      approve_free (approve);
      return;
    }
  announce_send (approve->self->notifications, approve->announce);
  event = json_object_new ();
  json_object_set_string_member (event, "prdId", approve->prd_id);
  json_object_set_object_member (event, "approver",
                                 person (approve->identity->user_id, approve->identity->name));
  if (approve->comment != NULL)
    json_object_set_string_member (event, "comment", approve->comment);
  add_time (event, "approvedAt", approve->approved_at);
  room_emit (approve->self, approve->prd_id, "prd-approved", event);
  ack = json_object_new ();
  json_object_set_string_member (ack, "prdId", approve->prd_id);
  add_time (ack, "approvedAt", approve->approved_at);
  prd_hub_reply_ok (approve->socket, approve->ack_id, ack);
  approve_free (approve);
}

static void
on_approve_info (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Approve *approve = user_data;
  PrdHubSocial *self = approve->self;
  g_autoptr (PrdStoreInfo) info = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *message = NULL;
  PrdApprovalRecord record = { 0 };
  JsonObject *data;

  info = prd_store_get_finish (PRD_STORE (source), result, &error);
  if (info == NULL || !g_str_equal (info->org, approve->identity->org))
    {
      if (info != NULL || g_error_matches (error, PRD_ERROR, PRD_ERROR_NOT_FOUND))
        {
          g_clear_error (&error);
          g_set_error (&error, PRD_ERROR, PRD_ERROR_PRD_NOT_FOUND, "No PRD %s", approve->prd_id);
        }
      prd_hub_reply_error (approve->socket, approve->ack_id, "approve-prd", NULL, error);
      approve_free (approve);
      return;
    }
  approve->title = g_strdup (info->title);
  approve->approved_at = g_get_real_time ();
  approve->announce = announce_new (info->org);
  record.prd_id = info->id;
  record.approver_id = approve->identity->user_id;
  record.approver_name = approve->identity->name;
  record.comment = approve->comment;
  record.created_at = approve->approved_at;
  data = json_object_new ();
  json_object_set_string_member (data, "prdId", info->id);
  json_object_set_string_member (data, "approver", approve->identity->name);
  message = g_strdup_printf ("Your PRD \"%s\" has been approved", info->title);
  announce_notify (approve->announce, info->owner,
                   notification_new ("prd_approved", "PRD Approved", message, data));
  announce_activity (approve->announce,
                     activity_new ("prd_approved", approve->identity->user_id,
                                   approve->identity->name, prd_object (info->id, info->title)));
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
  PrdHubSocial *self = user_data;
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

/* ---- /notifications ---------------------------------------------------------------- */

typedef struct
{
  PrdHubSocial *self;   /* (owned) */
  PrdSioSocket *socket; /* (owned) */
  gint64 ack_id;
  char *org;
  char *user_id;
} Request;

static void
request_free (Request *request)
{
  g_clear_object (&request->self);
  g_clear_object (&request->socket);
  g_free (request->org);
  g_free (request->user_id);
  g_free (request);
}

static Request *
request_new (PrdHubSocial *self, PrdSioSocket *socket, gint64 ack_id)
{
  const PrdIdentity *identity = prd_hub_socket_get_identity (socket);
  Request *request = g_new0 (Request, 1);

  request->self = g_object_ref (self);
  request->socket = g_object_ref (socket);
  request->ack_id = ack_id;
  request->org = g_strdup (identity->org);
  request->user_id = g_strdup (identity->user_id);
  return request;
}

static void
on_unread (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Request *request = user_data;
  g_autoptr (GPtrArray) unread = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *user = NULL, *org = NULL;
  JsonObject *ack;

  unread =
      prd_notification_store_list_unread_finish (PRD_NOTIFICATION_STORE (source), result, &error);
  if (unread == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        prd_hub_reply_error (request->socket, request->ack_id, "subscribe", NULL, error);
      request_free (request);
      return;
    }
  if (!prd_sio_socket_is_connected (request->socket))
    {
      request_free (request);
      return;
    }
  /* One callback: nothing sent to the rooms can come between the unread
   * notifications and the join. */
  for (guint i = 0; i < unread->len; i++)
    {
      g_autoptr (JsonNode) node =
          parse_json (((PrdNotificationRecord *) g_ptr_array_index (unread, i))->payload);

      if (node != NULL)
        prd_sio_socket_emit_one (request->socket, "notification", node);
    }
  user = user_room (request->org, request->user_id);
  org = org_room (request->org);
  prd_sio_socket_join (request->socket, user);
  prd_sio_socket_join (request->socket, org);
  ack = json_object_new ();
  json_object_set_string_member (ack, "organizationId", request->org);
  json_object_set_int_member (ack, "unread", unread->len);
  prd_hub_reply_ok (request->socket, request->ack_id, ack);
  request_free (request);
}

static void
on_subscribe (PrdSioSocket *socket,
              const char *event,
              JsonArray *args,
              GPtrArray *attachments,
              gint64 ack_id,
              gpointer user_data)
{
  PrdHubSocial *self = user_data;
  const PrdIdentity *identity = prd_hub_socket_get_identity (socket);
  g_autoptr (GError) error = NULL;
  JsonObject *payload;
  const char *org;

  payload = prd_hub_payload_get_object (socket, event, args, ack_id);
  if (payload == NULL)
    return;
  org = prd_hub_json_get_string (payload, "organizationId", &error);
  if (org == NULL)
    {
      prd_hub_reply_error (socket, ack_id, event, NULL, error);
      return;
    }
  if (!g_str_equal (org, identity->org))
    {
      prd_hub_reply_error_literal (socket, ack_id, event, NULL, PRD_ERROR_FORBIDDEN,
                                   "organizationId must be your own organization");
      return;
    }
  prd_notification_store_list_unread_async (self->feed, identity->org, identity->user_id,
                                            PRD_HUB_SOCIAL_MAX_UNREAD, NULL, on_unread,
                                            request_new (self, socket, ack_id));
}

static void
on_marked (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Request *request = user_data;
  g_autoptr (GError) error = NULL;
  JsonObject *ack;
  gint64 marked;

  marked =
      prd_notification_store_mark_read_finish (PRD_NOTIFICATION_STORE (source), result, &error);
  if (marked < 0)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        prd_hub_reply_error (request->socket, request->ack_id, "mark-read", NULL, error);
      request_free (request);
      return;
    }
  ack = json_object_new ();
  json_object_set_int_member (ack, "marked", marked);
  prd_hub_reply_ok (request->socket, request->ack_id, ack);
  request_free (request);
}

static void
on_mark_read (PrdSioSocket *socket,
              const char *event,
              JsonArray *args,
              GPtrArray *attachments,
              gint64 ack_id,
              gpointer user_data)
{
  PrdHubSocial *self = user_data;
  const PrdIdentity *identity = prd_hub_socket_get_identity (socket);
  g_autoptr (GPtrArray) marked = NULL;
  JsonObject *payload;
  JsonNode *ids_node;
  JsonArray *ids;
  guint n;

  payload = prd_hub_payload_get_object (socket, event, args, ack_id);
  if (payload == NULL)
    return;
  ids_node = json_object_get_member (payload, "ids");
  if (ids_node == NULL || !JSON_NODE_HOLDS_ARRAY (ids_node) ||
      (n = json_array_get_length (ids = json_node_get_array (ids_node))) == 0 ||
      n > PRD_HUB_SOCIAL_MAX_MARK_READ)
    {
      g_autofree char *message = g_strdup_printf (
          "ids must be an array of 1 to %d notification ids", PRD_HUB_SOCIAL_MAX_MARK_READ);

      prd_hub_reply_error_literal (socket, ack_id, event, NULL, PRD_ERROR_INVALID_PAYLOAD, message);
      return;
    }
  marked = g_ptr_array_new ();
  for (guint i = 0; i < n; i++)
    {
      JsonNode *id = json_array_get_element (ids, i);

      if (!JSON_NODE_HOLDS_VALUE (id) || json_node_get_value_type (id) != G_TYPE_STRING ||
          !valid_id (json_node_get_string (id), "notif_"))
        {
          g_autofree char *message =
              g_strdup_printf ("ids[%u] must be a notification id (notif_…)", i);

          prd_hub_reply_error_literal (socket, ack_id, event, NULL, PRD_ERROR_INVALID_ID, message);
          return;
        }
      g_ptr_array_add (marked, (gpointer) json_node_get_string (id));
    }
  g_ptr_array_add (marked, NULL);
  prd_notification_store_mark_read_async (self->feed, identity->org, identity->user_id,
                                          (const char *const *) marked->pdata, NULL, on_marked,
                                          request_new (self, socket, ack_id));
}

/* ---- REST ------------------------------------------------------------------------ */

typedef struct
{
  PrdHubSocial *self;     /* (owned) */
  SoupServerMessage *msg; /* (owned) */
  char *org;
  char *prd_id;
  gint64 limit;
} Call;

static void
call_finish (Call *call)
{
  soup_server_message_unpause (call->msg);
  g_clear_object (&call->self);
  g_clear_object (&call->msg);
  g_free (call->org);
  g_free (call->prd_id);
  g_free (call);
}

static void
respond_error_literal (SoupServerMessage *msg, PrdErrorCode code, const char *message)
{
  g_autoptr (GError) error = g_error_new_literal (PRD_ERROR, code, message);

  prd_hub_rest_respond_error (msg, error);
}

static void
respond_comments (Call *call, PrdDocument *document)
{
  JsonObject *object = json_object_new ();
  g_autoptr (JsonNode) node = NULL;

  json_object_set_string_member (object, "prdId", call->prd_id);
  json_object_set_array_member (object, "comments",
                                open_comments (call->self, call->prd_id, document));
  node = object_node (object);
  prd_hub_rest_respond_json (call->msg, SOUP_STATUS_OK, node);
}

static void
on_comments_loaded (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Call *call = user_data;
  g_autoptr (PrdStoreDocument) stored = NULL;
  g_autoptr (PrdDocument) document = NULL;
  g_autoptr (GError) error = NULL;

  stored = prd_store_load_finish (PRD_STORE (source), result, &error);
  if (stored != NULL && g_str_equal (stored->info->org, call->org))
    document = prd_hub_document_from_store (stored, &error);
  if (document == NULL)
    {
      if (error == NULL || g_error_matches (error, PRD_ERROR, PRD_ERROR_NOT_FOUND))
        {
          g_autofree char *message = g_strdup_printf ("No PRD %s", call->prd_id);

          respond_error_literal (call->msg, PRD_ERROR_PRD_NOT_FOUND, message);
        }
      else
        prd_hub_rest_respond_error (call->msg, error);
    }
  else
    respond_comments (call, document);
  call_finish (call);
}

static void
handle_comments (SoupServerMessage *msg,
                 const PrdIdentity *identity,
                 const char *const *params,
                 GHashTable *query,
                 gpointer user_data)
{
  PrdHubSocial *self = user_data;
  const char *prd_id = params[0];
  PrdDocument *document;
  Call *call;

  call = g_new0 (Call, 1);
  call->self = g_object_ref (self);
  call->msg = g_object_ref (msg);
  call->org = g_strdup (identity->org);
  call->prd_id = g_strdup (prd_id);
  soup_server_message_pause (msg);
  document = prd_hub_room_registry_peek_document (self->rooms, prd_id);
  if (document != NULL && g_str_equal (prd_document_get_org (document), identity->org))
    {
      respond_comments (call, document);
      call_finish (call);
      return;
    }
  /* Not open (or another organization's): the store decides. */
  prd_store_load_async (self->store, prd_id, NULL, on_comments_loaded, call);
}

static void
on_activity_read (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Call *call = user_data;
  g_autoptr (GPtrArray) page = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) node = NULL;
  JsonObject *object;
  JsonArray *activities;
  gint64 last = 0;

  page =
      prd_notification_store_list_activity_finish (PRD_NOTIFICATION_STORE (source), result, &error);
  if (page == NULL)
    {
      prd_hub_rest_respond_error (call->msg, error);
      call_finish (call);
      return;
    }
  object = json_object_new ();
  activities = json_array_new ();
  /* The query reads one row more than the page to know whether more follow. */
  for (guint i = 0; i < page->len && i < (guint64) call->limit; i++)
    {
      PrdActivityRecord *record = g_ptr_array_index (page, i);
      JsonNode *activity = parse_json (record->payload);

      last = record->seq;
      if (activity != NULL)
        json_array_add_element (activities, activity);
    }
  json_object_set_string_member (object, "organizationId", call->org);
  json_object_set_array_member (object, "activities", activities);
  if (page->len > (guint64) call->limit)
    {
      g_autofree char *cursor = g_strdup_printf ("%" G_GINT64_FORMAT, last);

      json_object_set_string_member (object, "nextBefore", cursor);
    }
  else
    json_object_set_null_member (object, "nextBefore");
  node = object_node (object);
  prd_hub_rest_respond_json (call->msg, SOUP_STATUS_OK, node);
  call_finish (call);
}

static gboolean
parse_count (const char *text, gint64 min, gint64 max, gint64 *out)
{
  guint64 value;

  if (text == NULL ||
      !g_ascii_string_to_unsigned (text, 10, (guint64) min, (guint64) max, &value, NULL))
    return FALSE;
  *out = (gint64) value;
  return TRUE;
}

static void
handle_activity (SoupServerMessage *msg,
                 const PrdIdentity *identity,
                 const char *const *params,
                 GHashTable *query,
                 gpointer user_data)
{
  PrdHubSocial *self = user_data;
  const char *org, *before, *limit_text;
  gint64 before_seq = G_MAXINT64, limit = PRD_HUB_ACTIVITY_DEFAULT_LIMIT;
  Call *call;

  org = query != NULL ? g_hash_table_lookup (query, "organizationId") : NULL;
  before = query != NULL ? g_hash_table_lookup (query, "before") : NULL;
  limit_text = query != NULL ? g_hash_table_lookup (query, "limit") : NULL;
  if (org == NULL)
    {
      respond_error_literal (msg, PRD_ERROR_INVALID_PAYLOAD, "organizationId is required");
      return;
    }
  if (!g_str_equal (org, identity->org))
    {
      respond_error_literal (msg, PRD_ERROR_FORBIDDEN,
                             "organizationId must be your own organization");
      return;
    }
  if (limit_text != NULL && !parse_count (limit_text, 1, PRD_HUB_ACTIVITY_MAX_LIMIT, &limit))
    {
      respond_error_literal (msg, PRD_ERROR_INVALID_PAYLOAD,
                             "limit must be an integer from 1 to 100");
      return;
    }
  if (before != NULL && !parse_count (before, 1, G_MAXINT64, &before_seq))
    {
      respond_error_literal (msg, PRD_ERROR_INVALID_PAYLOAD,
                             "before must be a cursor (nextBefore of the previous page)");
      return;
    }
  call = g_new0 (Call, 1);
  call->self = g_object_ref (self);
  call->msg = g_object_ref (msg);
  call->org = g_strdup (identity->org);
  call->limit = limit;
  soup_server_message_pause (msg);
  /* One entry more than the page, to know whether more follow. */
  prd_notification_store_list_activity_async (self->feed, identity->org, before_seq,
                                              (guint) limit + 1, NULL, on_activity_read, call);
}

static const PrdHubRouteEntry social_routes[] = {
  { "GET", "/api/prds/{prd}/comments", handle_comments },
  { "GET", "/api/activity", handle_activity },
};

/**
 * prd_hub_social_add_routes:
 *
 * Adds `GET /api/prds/{id}/comments` and `GET /api/activity` to @rest.
 */
void
prd_hub_social_add_routes (PrdHubSocial *self, PrdHubRest *rest)
{
  g_return_if_fail (PRD_IS_HUB_SOCIAL (self));
  g_return_if_fail (PRD_IS_HUB_REST (rest));

  prd_hub_rest_add_routes (rest, social_routes, G_N_ELEMENTS (social_routes), g_object_ref (self),
                           g_object_unref);
}

/* ---- activities recorded from elsewhere ------------------------------------------------ */

static void
on_recorded (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  g_autoptr (GError) error = NULL;
  Announce *announce = g_task_get_task_data (task);
  PrdHubSocial *social;

  if (!prd_notification_store_record_finish (PRD_NOTIFICATION_STORE (source), result, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  social = g_object_get_data (source, SOCIAL_KEY);
  if (social != NULL)
    announce_send (social->notifications, announce);
  g_task_return_boolean (task, TRUE);
}

/**
 * prd_hub_social_record_prd_created_async:
 * @store: where the activity feed is kept
 * @actor_name: (nullable): the creator's name (default: the owner id)
 *
 * Records a `prd_created` activity and, in a running hub, sends it to the
 * organization's room.
 */
void
prd_hub_social_record_prd_created_async (PrdNotificationStore *store,
                                         const PrdStoreInfo *info,
                                         const char *actor_name,
                                         GCancellable *cancellable,
                                         GAsyncReadyCallback callback,
                                         gpointer user_data)
{
  g_autoptr (GTask) task = NULL;
  Announce *announce;

  g_return_if_fail (PRD_IS_NOTIFICATION_STORE (store));
  g_return_if_fail (info != NULL);

  task = g_task_new (store, cancellable, callback, user_data);
  g_task_set_source_tag (task, prd_hub_social_record_prd_created_async);
  announce = announce_new (info->org);
  g_task_set_task_data (task, announce, (GDestroyNotify) announce_free);
  announce_activity (announce, activity_new ("prd_created", info->owner,
                                             actor_name != NULL ? actor_name : info->owner,
                                             prd_object (info->id, info->title)));
  prd_notification_store_record_async (store, announce->notification_records,
                                       announce->activity_records, cancellable, on_recorded,
                                       g_steal_pointer (&task));
}

gboolean
prd_hub_social_record_prd_created_finish (GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
on_version_recorded (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GError) error = NULL;

  if (!prd_hub_social_record_prd_created_finish (result, &error) &&
      !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_warning ("Cannot record a version: %s", error->message);
}

typedef struct
{
  PrdHubSocial *self; /* (owned) */
  char *prd_id;
  char *org;
  char *title;
  char *version;
  char *actor_id;
  char *actor_name;
} Version;

static void
version_free (Version *v)
{
  g_clear_object (&v->self);
  g_free (v->prd_id);
  g_free (v->org);
  g_free (v->title);
  g_free (v->version);
  g_free (v->actor_id);
  g_free (v->actor_name);
  g_free (v);
}

static void
record_version (Version *v, const char *const *editors)
{
  PrdHubSocial *self = v->self;
  g_autoptr (GTask) task = NULL;
  JsonObject *object;
  Announce *announce;

  task = g_task_new (self->feed, self->cancellable, on_version_recorded, NULL);
  announce = announce_new (v->org);
  g_task_set_task_data (task, announce, (GDestroyNotify) announce_free);
  for (guint i = 0; editors != NULL && editors[i] != NULL; i++)
    {
      JsonObject *data;
      g_autofree char *message = NULL;

      if (g_str_equal (editors[i], v->actor_id) || g_str_equal (editors[i], PRD_HUB_SITE_USER))
        continue;
      data = json_object_new ();
      json_object_set_string_member (data, "prdId", v->prd_id);
      json_object_set_string_member (data, "version", v->version);
      json_object_set_string_member (data, "author", v->actor_name);
      message =
          g_strdup_printf ("%s created version %s of \"%s\"", v->actor_name, v->version, v->title);
      announce_notify (announce, editors[i],
                       notification_new ("version_created", "New Version", message, data));
    }
  object = prd_object (v->prd_id, v->title);
  json_object_set_string_member (object, "version", v->version);
  announce_activity (announce,
                     activity_new ("version_created", v->actor_id, v->actor_name, object));
  prd_notification_store_record_async (self->feed, announce->notification_records,
                                       announce->activity_records, self->cancellable, on_recorded,
                                       g_steal_pointer (&task));
}

static void
on_editors_listed (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Version *v = user_data;
  g_autoptr (GPtrArray) sites = NULL;
  g_autoptr (GPtrArray) editors = g_ptr_array_new ();
  g_autoptr (GError) error = NULL;

  sites = prd_store_list_sites_finish (PRD_STORE (source), result, &error);
  if (sites == NULL)
    g_warning ("Cannot list the editors of %s: %s", v->prd_id, error->message);
  for (guint i = 0; sites != NULL && i < sites->len; i++)
    g_ptr_array_add (editors, ((PrdStoreSite *) g_ptr_array_index (sites, i))->user_id);
  g_ptr_array_add (editors, NULL);
  record_version (v, (const char *const *) editors->pdata);
  version_free (v);
}

/**
 * prd_hub_notify_version_created:
 * @editors: (nullable) (array zero-terminated=1): the users to notify; %NULL
 *   for every user who ever edited the PRD (holds a CRDT site in it)
 *
 * For the versions feature, once a version is committed: notifies the
 * editors but the actor (`version_created`, also the hub's own site user is
 * skipped; each user once) and records a `version_created` activity.
 */
void
prd_hub_notify_version_created (PrdHubSocial *self,
                                const char *prd_id,
                                const char *org,
                                const char *title,
                                const char *version,
                                const char *actor_id,
                                const char *actor_name,
                                const char *const *editors)
{
  Version *v;

  g_return_if_fail (PRD_IS_HUB_SOCIAL (self));

  v = g_new0 (Version, 1);
  v->self = g_object_ref (self);
  v->prd_id = g_strdup (prd_id);
  v->org = g_strdup (org);
  v->title = g_strdup (title);
  v->version = g_strdup (version);
  v->actor_id = g_strdup (actor_id);
  v->actor_name = g_strdup (actor_name);
  if (editors != NULL)
    {
      record_version (v, editors);
      version_free (v);
      return;
    }
  prd_store_list_sites_async (self->store, prd_id, self->cancellable, on_editors_listed, v);
}

/* ---- loading ----------------------------------------------------------------------- */

/* Takes every stored comment into memory; a damaged one stops the start. */
static gboolean
load_comments (PrdHubSocial *self, GPtrArray *records, GError **error)
{
  for (guint i = 0; i < records->len; i++)
    {
      const PrdCommentRecord *record = g_ptr_array_index (records, i);
      g_autoptr (Comment) comment = g_new0 (Comment, 1);

      comment->id = g_strdup (record->id);
      comment->prd_id = g_strdup (record->prd_id);
      comment->org = g_strdup (record->org);
      comment->author_id = g_strdup (record->author_id);
      comment->author_name = g_strdup (record->author_name);
      comment->author_avatar = g_strdup (record->author_avatar);
      comment->content = g_strdup (record->content);
      comment->created_at = record->created_at;
      comment->resolved_by_id = g_strdup (record->resolved_by_id);
      comment->resolved_by_name = g_strdup (record->resolved_by_name);
      comment->resolved_at = record->resolved_at;
      comment->replies = g_ptr_array_new_with_free_func ((GDestroyNotify) reply_free);
      if (comment->id == NULL || comment->prd_id == NULL || comment->org == NULL ||
          comment->author_id == NULL || comment->author_name == NULL || comment->content == NULL ||
          !anchor_from_string (record->anchor, &comment->anchor))
        {
          g_set_error (error, PRD_ERROR, PRD_ERROR_CORRUPT_DATA, "Comment %s is damaged",
                       comment->id != NULL ? comment->id : "?");
          return FALSE;
        }
      for (guint k = 0; record->replies != NULL && k < record->replies->len; k++)
        {
          const PrdReplyRecord *r = g_ptr_array_index (record->replies, k);
          Reply *reply = g_new0 (Reply, 1);

          reply->id = g_strdup (r->id);
          reply->author_id = g_strdup (r->author_id);
          reply->author_name = g_strdup (r->author_name);
          reply->content = g_strdup (r->content);
          reply->created_at = r->created_at;
          g_ptr_array_add (comment->replies, reply);
        }
      comment_add (self, g_steal_pointer (&comment));
    }
  g_debug ("Loaded %u comments", g_hash_table_size (self->comments));
  return TRUE;
}

/* ---- object ------------------------------------------------------------------------- */

static const PrdHubEventEntry prds_events[] = {
  { "add-comment", on_add_comment },
  { "reply-comment", on_reply_comment },
  { "resolve-comment", on_resolve_comment },
  { "approve-prd", on_approve_prd },
};

static const PrdHubEventEntry notifications_events[] = {
  { "subscribe", on_subscribe },
  { "mark-read", on_mark_read },
};

static void
prd_hub_social_dispose (GObject *object)
{
  PrdHubSocial *self = PRD_HUB_SOCIAL (object);
  PrdSioNamespace *nsp =
      self->rooms != NULL ? prd_hub_room_registry_get_namespace (self->rooms) : NULL;

  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  if (nsp != NULL)
    {
      prd_hub_remove_events (nsp, prds_events, G_N_ELEMENTS (prds_events));
    }
  if (self->notifications != NULL)
    {
      prd_hub_remove_events (self->notifications, notifications_events,
                             G_N_ELEMENTS (notifications_events));
      g_object_remove_weak_pointer (G_OBJECT (self->notifications),
                                    (gpointer *) &self->notifications);
      self->notifications = NULL;
    }
  if (self->feed != NULL && g_object_get_data (G_OBJECT (self->feed), SOCIAL_KEY) == self)
    g_object_set_data (G_OBJECT (self->feed), SOCIAL_KEY, NULL);
  g_clear_object (&self->rooms);
  g_clear_object (&self->store);
  g_clear_object (&self->comment_store);
  g_clear_object (&self->approval_store);
  g_clear_object (&self->feed);
  g_clear_object (&self->cancellable);

  G_OBJECT_CLASS (prd_hub_social_parent_class)->dispose (object);
}

static void
prd_hub_social_finalize (GObject *object)
{
  PrdHubSocial *self = PRD_HUB_SOCIAL (object);

  g_clear_pointer (&self->by_prd, g_hash_table_unref);
  g_clear_pointer (&self->comments, g_hash_table_unref);

  G_OBJECT_CLASS (prd_hub_social_parent_class)->finalize (object);
}

static void
prd_hub_social_class_init (PrdHubSocialClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = prd_hub_social_dispose;
  object_class->finalize = prd_hub_social_finalize;
}

static void
prd_hub_social_init (PrdHubSocial *self)
{
  self->by_prd =
      g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_ptr_array_unref);
  self->comments =
      g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) comment_free);
  self->cancellable = g_cancellable_new ();
}

static void
on_comments_read (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  PrdHubSocial *self = g_task_get_task_data (task);
  g_autoptr (GPtrArray) records = NULL;
  PrdSioNamespace *nsp;
  GError *error = NULL;

  records = prd_comment_store_load_finish (PRD_COMMENT_STORE (source), result, &error);
  if (records == NULL || !load_comments (self, records, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  if (self->notifications == NULL)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                               "The hub went away while the comments were read");
      return;
    }
  g_object_set_data (G_OBJECT (self->feed), SOCIAL_KEY, self);
  nsp = prd_hub_room_registry_get_namespace (self->rooms);
  prd_hub_add_events (nsp, prds_events, G_N_ELEMENTS (prds_events), self);
  prd_hub_add_events (self->notifications, notifications_events,
                      G_N_ELEMENTS (notifications_events), self);
  g_task_return_pointer (task, g_object_ref (self), g_object_unref);
}

/**
 * prd_hub_social_new_async:
 * @rooms: the rooms of /prds (comments ride on them)
 * @notifications: the /notifications namespace
 * @store: the PRDs (approvals and the comments REST route read them)
 * @comments: where comments and their replies are kept
 * @approvals: where approvals are kept
 * @feed: where notifications and the activity feed are kept
 * @cancellable: (nullable): stops the loading
 * @callback: called once the comments are loaded
 * @user_data: data for @callback
 *
 * Loads every comment, then installs the handlers. Call before the hub
 * listens.
 */
void
prd_hub_social_new_async (PrdHubRoomRegistry *rooms,
                          PrdSioNamespace *notifications,
                          PrdStore *store,
                          PrdCommentStore *comments,
                          PrdApprovalStore *approvals,
                          PrdNotificationStore *feed,
                          GCancellable *cancellable,
                          GAsyncReadyCallback callback,
                          gpointer user_data)
{
  PrdHubSocial *self;
  g_autoptr (GTask) task = NULL;

  g_return_if_fail (PRD_IS_HUB_ROOM_REGISTRY (rooms));
  g_return_if_fail (PRD_IS_SIO_NAMESPACE (notifications));
  g_return_if_fail (PRD_IS_STORE (store));
  g_return_if_fail (PRD_IS_COMMENT_STORE (comments));
  g_return_if_fail (PRD_IS_APPROVAL_STORE (approvals));
  g_return_if_fail (PRD_IS_NOTIFICATION_STORE (feed));

  self = g_object_new (PRD_TYPE_HUB_SOCIAL, NULL);
  self->rooms = g_object_ref (rooms);
  self->store = g_object_ref (store);
  self->comment_store = g_object_ref (comments);
  self->approval_store = g_object_ref (approvals);
  self->feed = g_object_ref (feed);
  self->notifications = notifications;
  g_object_add_weak_pointer (G_OBJECT (notifications), (gpointer *) &self->notifications);
  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, prd_hub_social_new_async);
  g_task_set_task_data (task, self, g_object_unref);
  prd_comment_store_load_async (comments, cancellable, on_comments_read, g_steal_pointer (&task));
}

/**
 * prd_hub_social_new_finish:
 *
 * Returns: (transfer full) (nullable): comments, approvals, notifications
 *   and the activity feed, or %NULL with @error set when the comments
 *   cannot be read
 */
PrdHubSocial *
prd_hub_social_new_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
