/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Comments on /prds: `add-comment`, `reply-comment`, `resolve-comment`,
 * and the open comments every `joined-prd` carries.
 *
 * Comments are held in memory (all of them, loaded when the hub starts)
 * because every `joined-prd` carries the PRD's open comments and every
 * reply or resolve names only a comment id. Each change is written to the
 * store first, together with the notifications and activities it
 * announces (one transaction); the memory, the broadcast, the
 * #PrdHubComments::notifications-recorded signal (which prd-hub.c hands to
 * the notifications feature) and the ack follow its commit, so nobody hears
 * of a comment the hub could lose. Positions are re-resolved from the
 * comment's CRDT anchors each time a comment is sent, with the state vector
 * of the text they were resolved in (`stateVector` of `comment-added` and of
 * the REST answer, `commentsStateVector` of `joined-prd`), so that a client
 * whose text differs reads them into its own.
 *
 * `GET /api/prds/{id}/comments` answers with the same text until the PRD's
 * comments or its text change: the last few answers are kept
 * (prd-hub-answer-cache.c), so a burst of readers costs one placement and
 * one serialization, not one each.
 *
 * What the open comments of a PRD cost every `joined-prd` is bounded
 * ([collab] max-open-comments, max-open-comments-per-user, max-replies,
 * max-open-comments-bytes): `selection.text` is cut at
 * %PRD_COMMENT_MAX_SELECTION_TEXT UTF-16 code units wherever it is sent, and
 * each comment and reply is weighed (comment_weight()) as the most JSON it
 * can take, so that a PRD's open comments never make a `joined-prd` larger
 * than max-open-comments-bytes plus the document.
 */
#define G_LOG_DOMAIN "prd-hub-comments"

#include "config.h"

#include <stdio.h>
#include <string.h>

#include "prd-comment.h"
#include "prd-error.h"
#include "prd-hub-announce.h"
#include "prd-hub-answer-cache.h"
#include "prd-hub-config-collab.h"
#include "prd-hub-context.h"
#include "prd-json.h"

#include "prd-hub-comments.h"

typedef struct
{
  char *id;
  char *author_id;
  char *author_name;
  char *content;
  gint64 created_at;
  gsize weight; /* reply_weight() */
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
  gsize weight;       /* comment_weight(), its replies' included */
} Comment;

struct _PrdHubComments
{
  GObject parent_instance;

  PrdHubRoomRegistry *rooms;      /* (owned) */
  PrdCommentStore *comment_store; /* (owned) */
  GHashTable *comments;           /* id → (owned) Comment; removed with their PRD */
  GHashTable *by_prd;             /* prd id → GPtrArray of (unowned) Comment */
  GPtrArray *pending;         /* (element-type Write) (unowned): adds and replies being written */
  PrdHubAnswerCache *answers; /* (owned): the last REST answers, by PRD id */
};

/* What the kept REST answers may hold: a PRD's open comments take up to
 * [collab] max-open-comments-bytes (8 MiB) of JSON. */
#define MAX_ANSWERS      16
#define MAX_ANSWER_BYTES (32 * 1024 * 1024)

enum
{
  SIGNAL_NOTIFICATIONS_RECORDED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (PrdHubComments, prd_hub_comments, G_TYPE_OBJECT)

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

/* ---- anchors ----------------------------------------------------------------- */

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

/* ---- weights ----------------------------------------------------------------- */

/* The most bytes of JSON around a comment's strings (keys, ids' quotes,
 * offsets of 10 digits, `createdAt`, `detached`, `textTruncated`, `replies`
 * and separators), and around a reply's. */
#define COMMENT_OVERHEAD 512
#define REPLY_OVERHEAD   256
/* `selection.text`: one UTF-16 code unit is at most 6 bytes of JSON (a
 * control character, escaped as \u00XX). */
#define SELECTION_RESERVE (6 * PRD_COMMENT_MAX_SELECTION_TEXT)

/* The most bytes @text takes as a JSON string's content: a control
 * character is escaped in 6, a quote or backslash in 2. */
static gsize
string_weight (const char *text)
{
  gsize weight = 0;

  if (text == NULL)
    return 4; /* null */
  for (const guchar *p = (const guchar *) text; *p != '\0'; p++)
    weight += *p < 0x20 || *p == 0x7f ? 6 : *p == '"' || *p == '\\' ? 2 : 1;
  return weight;
}

static gsize
reply_weight (const Reply *reply)
{
  return REPLY_OVERHEAD + string_weight (reply->id) + string_weight (reply->author_id) +
         string_weight (reply->author_name) + string_weight (reply->content);
}

/* What @comment, without its replies, can take in `joined-prd` at most,
 * whatever edits its selection sees. */
static gsize
comment_weight (const Comment *comment)
{
  return COMMENT_OVERHEAD + string_weight (comment->id) + string_weight (comment->prd_id) +
         string_weight (comment->author_id) + string_weight (comment->author_name) +
         string_weight (comment->author_avatar) + string_weight (comment->content) +
         (comment->anchor.has_selection ? SELECTION_RESERVE : 0);
}

/* ---- comments ------------------------------------------------------------------ */

/* Returns: (transfer full): the comment as the seed's `comment-added`;
 * @text: (nullable): the text of @document, when several comments are sent;
 * @vector: (nullable): the state vector of @document's text, the version
 * the offsets are in, added as `stateVector` (`comment-added`; a list of
 * comments carries it once, beside the list) */
static JsonObject *
comment_to_json (Comment *comment,
                 PrdDocument *document,
                 PrdCommentText *text,
                 GArray *vector,
                 gboolean with_replies)
{
  JsonObject *object = json_object_new ();
  JsonObject *author = prd_hub_person_new (comment->author_id, comment->author_name);
  g_auto (PrdCommentPlace) place = { 0 };

  if (comment->author_avatar != NULL)
    json_object_set_string_member (author, "avatar", comment->author_avatar);
  else
    json_object_set_null_member (author, "avatar");
  if (document != NULL)
    prd_comment_anchor_resolve (&comment->anchor, prd_document_get_crdt (document), text, &place);
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
      if (place.truncated)
        json_object_set_boolean_member (selection, "textTruncated", TRUE);
      json_object_set_object_member (object, "selection", selection);
    }
  prd_hub_json_set_time (object, "createdAt", comment->created_at);
  if (vector != NULL)
    json_object_set_member (object, "stateVector", prd_hub_vector_to_json (vector));
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
                                         prd_hub_person_new (reply->author_id, reply->author_name));
          json_object_set_string_member (r, "content", reply->content);
          prd_hub_json_set_time (r, "createdAt", reply->created_at);
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
open_comments (PrdHubComments *self, const char *prd_id, PrdDocument *document)
{
  GPtrArray *all = g_hash_table_lookup (self->by_prd, prd_id);
  g_autoptr (GPtrArray) list = g_ptr_array_new ();
  g_autoptr (PrdCommentText) text = NULL;
  JsonArray *array = json_array_new ();

  for (guint i = 0; all != NULL && i < all->len; i++)
    {
      Comment *comment = g_ptr_array_index (all, i);

      if (comment->resolved_by_id == NULL)
        g_ptr_array_add (list, comment);
    }
  g_ptr_array_sort (list, compare_comments);
  /* The text once, not once per comment. */
  if (document != NULL && list->len > 0)
    text = prd_comment_text_new (prd_document_get_crdt (document));
  for (guint i = 0; i < list->len; i++)
    json_array_add_object_element (
        array, comment_to_json (g_ptr_array_index (list, i), document, text, NULL, TRUE));
  return array;
}

/* Takes @comment into the tables. */
static void
comment_add (PrdHubComments *self, Comment *comment)
{
  GPtrArray *list = g_hash_table_lookup (self->by_prd, comment->prd_id);

  if (list == NULL)
    {
      list = g_ptr_array_new ();
      g_hash_table_insert (self->by_prd, g_strdup (comment->prd_id), list);
    }
  g_ptr_array_add (list, comment);
  g_hash_table_replace (self->comments, comment->id, comment);
  prd_hub_answer_cache_remove (self->answers, comment->prd_id);
}

/**
 * prd_hub_comments_prd_deleted:
 * @prd_id: a PRD that no longer exists
 *
 * Forgets the comments of @prd_id (the store deleted them with it).
 */
void
prd_hub_comments_prd_deleted (PrdHubComments *self, const char *prd_id)
{
  GPtrArray *list;

  g_return_if_fail (PRD_IS_HUB_COMMENTS (self));

  if (self->by_prd == NULL)
    return;
  prd_hub_answer_cache_remove (self->answers, prd_id);
  if ((list = g_hash_table_lookup (self->by_prd, prd_id)) == NULL)
    return;
  for (guint i = 0; i < list->len; i++)
    g_hash_table_remove (self->comments, ((Comment *) g_ptr_array_index (list, i))->id);
  g_hash_table_remove (self->by_prd, prd_id);
}

/**
 * prd_hub_comments_member_joined:
 * @joined: the `joined-prd` payload of @room
 *
 * Adds the open comments of the PRD (#PrdHubRoomRegistry::member-joined).
 */
void
prd_hub_comments_member_joined (PrdHubComments *self, PrdHubRoom *room, JsonObject *joined)
{
  PrdDocument *document;
  g_autoptr (GArray) vector = NULL;

  g_return_if_fail (PRD_IS_HUB_COMMENTS (self));

  document = prd_hub_room_get_document (room);
  json_object_set_array_member (joined, "comments",
                                open_comments (self, prd_hub_room_get_prd_id (room), document));
  /* The version the comments were placed in: the whole CRDT, as
   * `initialState.encodedState` holds it (its `stateVector` has the durable
   * operations only). Once for the list, not per comment, so that the
   * comments' weight still bounds `joined-prd`. */
  if (document == NULL)
    return;
  vector = prd_crdt_doc_get_state_vector (prd_document_get_crdt (document));
  json_object_set_member (joined, "commentsStateVector", prd_hub_vector_to_json (vector));
}

/**
 * prd_hub_comments_get_open_answer:
 * @prd_id: the PRD
 * @document: its text, to place the comments in
 *
 * The answer of `GET /api/prds/{id}/comments`: the open comments of
 * @prd_id placed in @document, as the JSON text of `{prdId, comments}`.
 * Kept until the PRD's comments change or @document's text is another
 * (the last %MAX_ANSWERS, at most %MAX_ANSWER_BYTES).
 *
 * Returns: (transfer full): the body
 */
GBytes *
prd_hub_comments_get_open_answer (PrdHubComments *self, const char *prd_id, PrdDocument *document)
{
  g_autoptr (GArray) vector = NULL;
  g_autoptr (JsonNode) node = NULL;
  JsonObject *object;
  GBytes *answer;
  char *text;

  g_return_val_if_fail (PRD_IS_HUB_COMMENTS (self), NULL);
  g_return_val_if_fail (prd_id != NULL, NULL);
  g_return_val_if_fail (PRD_IS_DOCUMENT (document), NULL);

  vector = prd_crdt_doc_get_state_vector (prd_document_get_crdt (document));
  answer = prd_hub_answer_cache_lookup (self->answers, prd_id, vector);
  if (answer != NULL)
    return g_bytes_ref (answer);
  node = json_node_new (JSON_NODE_OBJECT);
  object = json_object_new ();
  json_node_take_object (node, object);
  json_object_set_string_member (object, "prdId", prd_id);
  /* The version the offsets are in: the key the answer is kept under. */
  json_object_set_member (object, "stateVector", prd_hub_vector_to_json (vector));
  json_object_set_array_member (object, "comments", open_comments (self, prd_id, document));
  text = prd_json_to_string (node);
  answer = g_bytes_new_take (text, strlen (text));
  prd_hub_answer_cache_insert (self->answers, prd_id, vector, answer);
  return answer;
}

static void
room_emit (PrdHubComments *self, const char *prd_id, const char *event, JsonObject *payload)
{
  g_autoptr (JsonNode) node = prd_hub_object_node (payload);

  prd_hub_room_registry_emit (self->rooms, prd_id, event, node);
}

/* The document of @prd_id if @socket is in its (open) room, else %NULL. */
static PrdDocument *
joined_document (PrdHubComments *self, PrdSioSocket *socket, const char *prd_id, PrdRoom **members)
{
  PrdHubRoom *room = prd_hub_room_registry_get_joined (self->rooms, socket, prd_id, NULL);

  if (room == NULL || !prd_hub_room_is_open (room))
    return NULL;
  *members = prd_hub_room_get_members (room);
  return prd_hub_room_get_document (room);
}

static void
add_unique (GPtrArray *array, const char *value)
{
  for (guint k = 0; k < array->len; k++)
    if (g_str_equal (g_ptr_array_index (array, k), value))
      return;
  g_ptr_array_add (array, g_strdup (value));
}

/* Mentioned users: `@word` names a user by id, or by display name with the
 * blanks taken out (case-insensitive), among the users present in the
 * PRD's room; ids also match users who ever edited the PRD (have a site).
 * The author is never notified of their own mention. The names that match
 * nobody go to @unresolved (each once, in the order they appear), for the
 * author's ack. */
static GPtrArray *
resolve_mentions (PrdRoom *room,
                  PrdDocument *document,
                  const char *content,
                  const char *author,
                  GPtrArray **unresolved)
{
  g_autoptr (GPtrArray) names = prd_comment_parse_mentions (content);
  g_autoptr (JsonNode) users = prd_room_build_active_users (room);
  JsonArray *array = JSON_NODE_HOLDS_ARRAY (users) ? json_node_get_array (users) : NULL;
  GPtrArray *found = g_ptr_array_new_with_free_func (g_free);

  *unresolved = g_ptr_array_new_with_free_func (g_free);

  for (guint i = 0; i < names->len; i++)
    {
      const char *name = g_ptr_array_index (names, i);
      g_autofree char *folded = g_utf8_casefold (name, -1);
      const char *match = NULL;

      for (guint j = 0; array != NULL && j < json_array_get_length (array) && match == NULL; j++)
        {
          JsonObject *user = json_array_get_object_element (array, j);
          const char *id = json_object_get_string_member_with_default (user, "userId", "");
          const char *display = json_object_get_string_member_with_default (user, "name", "");
          g_autoptr (GString) squeezed = g_string_new (NULL);
          g_autofree char *a = NULL;

          for (const char *p = display; *p != '\0'; p = g_utf8_next_char (p))
            if (!g_unichar_isspace (g_utf8_get_char (p)))
              g_string_append_unichar (squeezed, g_utf8_get_char (p));
          a = g_utf8_casefold (squeezed->str, -1);
          if (g_str_equal (id, name) || (*a != '\0' && g_str_equal (a, folded)))
            match = id;
        }
      /* Someone who has edited the PRD, present or not (by id only). */
      if (match == NULL && !g_str_equal (name, PRD_HUB_SITE_USER) &&
          prd_document_is_site_owner (document, name))
        match = name;
      if (match == NULL) /* the names are distinct already */
        g_ptr_array_add (*unresolved, g_strdup (name));
      else if (!g_str_equal (match, author))
        add_unique (found, match);
    }
  return found;
}

static void
notify_mentions (PrdHubAnnounce *announce,
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
      prd_hub_announce_notify (
          announce, g_ptr_array_index (mentioned, i),
          prd_hub_notification_new ("mention", "You were mentioned", message, data));
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
  PrdHubComments *self; /* (owned) */
  WriteKind kind;
  PrdSioSocket *socket; /* (owned) */
  gint64 ack_id;
  Comment *comment; /* (owned) for WRITE_ADD, else (nullable) a copy of the key */
  char *comment_id;
  char *prd_id; /* the PRD of a reply */
  Reply *reply; /* (owned) (nullable) */
  char *resolved_by_id;
  char *resolved_by_name;
  gint64 resolved_at;
  GPtrArray *unresolved;    /* (owned) (nullable) mentions that named nobody */
  PrdHubAnnounce *announce; /* (owned) */
} Write;

static void
write_free (Write *write)
{
  g_clear_object (&write->self);
  g_clear_object (&write->socket);
  g_clear_pointer (&write->comment, comment_free);
  g_free (write->comment_id);
  g_free (write->prd_id);
  g_clear_pointer (&write->reply, reply_free);
  g_free (write->resolved_by_id);
  g_free (write->resolved_by_name);
  g_clear_pointer (&write->unresolved, g_ptr_array_unref);
  g_clear_pointer (&write->announce, prd_hub_announce_unref);
  g_free (write);
}

static const char *const write_events[] = { "add-comment", "reply-comment", "resolve-comment" };

static void
on_written (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Write *write = user_data;
  PrdHubComments *self = write->self;
  PrdCommentStore *store = PRD_COMMENT_STORE (source);
  g_autoptr (GError) error = NULL;
  const char *event = write_events[write->kind];
  gboolean done = FALSE;
  Comment *comment;
  JsonObject *payload, *ack;

  g_ptr_array_remove_fast (self->pending, write);
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
          /* The PRD or the comment went (deleted) or the comment was
           * resolved after this request was checked: the answer it would
           * have had a moment later, no failure of the hub. */
          if (!g_error_matches (error, PRD_ERROR, PRD_ERROR_PRD_NOT_FOUND) &&
              !g_error_matches (error, PRD_ERROR, PRD_ERROR_NOT_FOUND) &&
              !g_error_matches (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION))
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
        {
          PrdDocument *document =
              prd_hub_room_registry_peek_document (self->rooms, comment->prd_id);
          g_autoptr (GArray) vector = NULL;

          if (document != NULL)
            vector = prd_crdt_doc_get_state_vector (prd_document_get_crdt (document));
          payload = comment_to_json (comment, document, NULL, vector, FALSE);
        }
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
          comment->weight += reply->weight;
          prd_hub_answer_cache_remove (self->answers, comment->prd_id);
          payload = json_object_new ();
          json_object_set_string_member (payload, "commentId", comment->id);
          json_object_set_string_member (r, "id", reply->id);
          json_object_set_object_member (r, "author",
                                         prd_hub_person_new (reply->author_id, reply->author_name));
          json_object_set_string_member (r, "content", reply->content);
          prd_hub_json_set_time (r, "createdAt", reply->created_at);
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
        prd_hub_answer_cache_remove (self->answers, comment->prd_id);
        payload = json_object_new ();
        json_object_set_string_member (payload, "commentId", comment->id);
        json_object_set_object_member (
            payload, "resolvedBy",
            prd_hub_person_new (comment->resolved_by_id, comment->resolved_by_name));
        prd_hub_json_set_time (payload, "resolvedAt", comment->resolved_at);
        room_emit (self, comment->prd_id, "comment-resolved", payload);
        break;
      default:
        g_assert_not_reached ();
    }
  if (write->unresolved != NULL)
    {
      JsonArray *names = json_array_new ();

      for (guint i = 0; i < write->unresolved->len; i++)
        json_array_add_string_element (names, g_ptr_array_index (write->unresolved, i));
      json_object_set_array_member (ack, "unresolvedMentions", names);
    }
  g_signal_emit (self, signals[SIGNAL_NOTIFICATIONS_RECORDED], 0, write->announce);
  prd_hub_reply_ok (write->socket, write->ack_id, ack);
  write_free (write);
}

/* The comment named by the payload's `commentId`, visible to @socket. */
static Comment *
lookup_comment (PrdHubComments *self,
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
  if (!prd_hub_id_is_valid (id, "comment_"))
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

/* Whether a new comment by @author_id on @prd_id (@replied %NULL), or a
 * reply to @replied, of @weight, stays within [collab] max-open-comments,
 * max-open-comments-per-user, max-replies and max-open-comments-bytes; the
 * comments and replies still being written count. */
static gboolean
check_limits (PrdHubComments *self,
              const char *prd_id,
              const char *author_id,
              const Comment *replied,
              gsize weight,
              GError **error)
{
  const PrdHubCollabConfig *config =
      prd_hub_config_get_collab (prd_hub_room_registry_get_config (self->rooms));
  GPtrArray *all = g_hash_table_lookup (self->by_prd, prd_id);
  guint open = 0, mine = 0, replies = replied != NULL ? replied->replies->len : 0;
  guint64 total = weight;

  for (guint i = 0; all != NULL && i < all->len; i++)
    {
      const Comment *comment = g_ptr_array_index (all, i);

      if (comment->resolved_by_id != NULL)
        continue;
      open++;
      mine += g_str_equal (comment->author_id, author_id);
      total += comment->weight;
    }
  for (guint i = 0; i < self->pending->len; i++)
    {
      const Write *write = g_ptr_array_index (self->pending, i);

      if (write->kind == WRITE_ADD && g_str_equal (write->comment->prd_id, prd_id))
        {
          open++;
          mine += g_str_equal (write->comment->author_id, author_id);
          total += write->comment->weight;
        }
      else if (write->kind == WRITE_REPLY && g_str_equal (write->prd_id, prd_id))
        {
          total += write->reply->weight;
          replies += replied != NULL && g_str_equal (write->comment_id, replied->id);
        }
    }
  if (replied == NULL && open >= config->max_open_comments)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_LIMIT_REACHED,
                   "%s has %u open comments (max-open-comments); resolve some first", prd_id, open);
      return FALSE;
    }
  if (replied == NULL && mine >= config->max_user_comments)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_LIMIT_REACHED,
                   "You have %u open comments on %s (max-open-comments-per-user); resolve some "
                   "first",
                   mine, prd_id);
      return FALSE;
    }
  if (replied != NULL && replies >= config->max_replies)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_LIMIT_REACHED,
                   "Comment %s has %u replies (max-replies)", replied->id, replies);
      return FALSE;
    }
  if (total > config->max_comment_bytes)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_LIMIT_REACHED,
                   "The open comments of %s would weigh more than %u bytes "
                   "(max-open-comments-bytes); resolve some first",
                   prd_id, config->max_comment_bytes);
      return FALSE;
    }
  return TRUE;
}

static void
on_add_comment (PrdSioSocket *socket,
                const char *event,
                JsonArray *args,
                GPtrArray *attachments,
                gint64 ack_id,
                gpointer user_data)
{
  PrdHubComments *self = user_data;
  const PrdIdentity *identity = prd_hub_socket_get_identity (socket);
  g_autoptr (GError) error = NULL;
  g_autoptr (Comment) comment = NULL;
  g_autoptr (GPtrArray) mentioned = NULL;
  g_autofree char *anchor = NULL;
  g_autoptr (GArray) version = NULL;
  PrdCommentRecord record = { 0 };
  JsonObject *payload, *selection = NULL;
  JsonNode *selection_node;
  const char *prd_id, *content, *text;
  guint32 position = 0, start = 0, end = 0;
  PrdDocument *document;
  PrdRoom *room = NULL;
  Write *write;
  gboolean ok;

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
  /* The version of the text the offsets were read in (added, optional). */
  if (!prd_hub_json_get_optional_vector (payload, "stateVector", "stateVector", &version, &error))
    goto fail;
  document = joined_document (self, socket, prd_id, &room);
  if (document == NULL)
    {
      g_set_error_literal (&error, PRD_ERROR, PRD_ERROR_NOT_JOINED,
                           "Join the PRD first (join-prd)");
      goto fail;
    }

  comment = g_new0 (Comment, 1);
  ok = prd_comment_anchor_init (&comment->anchor, prd_document_get_crdt (document),
                                version != NULL ? (const guint32 *) version->data : NULL,
                                version != NULL ? version->len : 0, position, selection != NULL,
                                start, end, &error);
  /* the position, and the selection's two ends */
  if (version != NULL)
    prd_hub_charge_history (
        socket, event, prd_document_get_crdt (document), (const guint32 *) version->data,
        version->len, selection != NULL ? 3 : 1,
        prd_hub_config_get_collab (prd_hub_room_registry_get_config (self->rooms))->history_ops);
  if (!ok)
    {
      if (error->code != PRD_ERROR_INVALID_PAYLOAD)
        error->code = PRD_ERROR_INVALID_PAYLOAD;
      goto fail;
    }
  comment->id = prd_hub_new_id ("comment_");
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
  comment->weight = comment_weight (comment);
  if (!check_limits (self, prd_id, identity->user_id, NULL, comment->weight, &error))
    goto fail;
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
  write->announce = prd_hub_announce_new (identity->org);
  mentioned = resolve_mentions (room, document, content, identity->user_id, &write->unresolved);
  notify_mentions (write->announce, mentioned, identity, document, comment->id);
  {
    JsonObject *object = json_object_new ();

    json_object_set_string_member (object, "type", "comment");
    json_object_set_string_member (object, "id", comment->id);
    json_object_set_string_member (object, "prdId", prd_id);
    json_object_set_string_member (object, "title", prd_document_get_title (document));
    prd_hub_announce_activity (
        write->announce,
        prd_hub_activity_new ("comment_added", identity->user_id, identity->name, object));
  }
  prd_comment_store_add_async (self->comment_store, &record, write->announce->notification_records,
                               write->announce->activity_records, NULL, on_written, write);
  write->comment = g_steal_pointer (&comment);
  g_ptr_array_add (self->pending, write);
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
  PrdHubComments *self = user_data;
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
  /* A resolve being written counts as done, as for a second resolve: the
   * reply would go to a comment that is resolved before it is stored. */
  if (comment->resolved_by_id != NULL || comment->resolving)
    {
      g_set_error (&error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION,
                   "Comment %s is resolved; it takes no more replies", comment->id);
      goto fail;
    }

  reply = g_new0 (Reply, 1);
  reply->id = prd_hub_new_id ("reply_");
  reply->author_id = g_strdup (identity->user_id);
  reply->author_name = g_strdup (identity->name);
  reply->content = g_strdup (content);
  reply->created_at = g_get_real_time ();
  reply->weight = reply_weight (reply);
  if (!check_limits (self, comment->prd_id, identity->user_id, comment, reply->weight, &error))
    {
      reply_free (reply);
      goto fail;
    }
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
  write->prd_id = g_strdup (comment->prd_id);
  write->reply = reply;
  write->announce = prd_hub_announce_new (identity->org);
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
      prd_hub_announce_notify (
          write->announce, comment->author_id,
          prd_hub_notification_new ("comment_reply", "New Reply", message, data));
    }
  mentioned = resolve_mentions (room, document, content, identity->user_id, &write->unresolved);
  notify_mentions (write->announce, mentioned, identity, document, comment->id);
  prd_comment_store_add_reply_async (self->comment_store, &record,
                                     write->announce->notification_records,
                                     write->announce->activity_records, NULL, on_written, write);
  g_ptr_array_add (self->pending, write);
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
  PrdHubComments *self = user_data;
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
  write->announce = prd_hub_announce_new (identity->org);
  comment->resolving = TRUE;
  object = json_object_new ();
  json_object_set_string_member (object, "type", "comment");
  json_object_set_string_member (object, "id", comment->id);
  json_object_set_string_member (object, "prdId", comment->prd_id);
  json_object_set_string_member (object, "title", prd_document_get_title (document));
  prd_hub_announce_activity (
      write->announce,
      prd_hub_activity_new ("comment_resolved", identity->user_id, identity->name, object));
  prd_comment_store_resolve_async (self->comment_store, comment->id, identity->user_id,
                                   identity->name, write->resolved_at,
                                   write->announce->notification_records,
                                   write->announce->activity_records, NULL, on_written, write);
  return;

fail:
  prd_hub_reply_error (socket, ack_id, event, NULL, error);
}

/* ---- loading ----------------------------------------------------------------------- */

/* Takes every stored comment into memory; a damaged one stops the start. */
static gboolean
load_comments (PrdHubComments *self, GPtrArray *records, GError **error)
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
      comment->weight = comment_weight (comment);
      for (guint k = 0; record->replies != NULL && k < record->replies->len; k++)
        {
          const PrdReplyRecord *r = g_ptr_array_index (record->replies, k);
          Reply *reply = g_new0 (Reply, 1);

          reply->id = g_strdup (r->id);
          reply->author_id = g_strdup (r->author_id);
          reply->author_name = g_strdup (r->author_name);
          reply->content = g_strdup (r->content);
          reply->created_at = r->created_at;
          reply->weight = reply_weight (reply);
          comment->weight += reply->weight;
          g_ptr_array_add (comment->replies, reply);
        }
      comment_add (self, g_steal_pointer (&comment));
    }
  g_debug ("Loaded %u comments", g_hash_table_size (self->comments));
  return TRUE;
}

/* ---- object ------------------------------------------------------------------------- */

static const PrdHubEventEntry events[] = {
  { "add-comment", on_add_comment },
  { "reply-comment", on_reply_comment },
  { "resolve-comment", on_resolve_comment },
};

static void
prd_hub_comments_dispose (GObject *object)
{
  PrdHubComments *self = PRD_HUB_COMMENTS (object);

  if (self->rooms != NULL)
    {
      PrdSioNamespace *nsp = prd_hub_room_registry_get_namespace (self->rooms);

      if (nsp != NULL)
        prd_hub_remove_events (nsp, events, G_N_ELEMENTS (events));
    }
  g_clear_object (&self->rooms);
  g_clear_object (&self->comment_store);

  G_OBJECT_CLASS (prd_hub_comments_parent_class)->dispose (object);
}

static void
prd_hub_comments_finalize (GObject *object)
{
  PrdHubComments *self = PRD_HUB_COMMENTS (object);

  g_clear_pointer (&self->by_prd, g_hash_table_unref);
  g_clear_pointer (&self->comments, g_hash_table_unref);
  g_clear_pointer (&self->pending, g_ptr_array_unref);
  g_clear_pointer (&self->answers, prd_hub_answer_cache_unref);

  G_OBJECT_CLASS (prd_hub_comments_parent_class)->finalize (object);
}

static void
prd_hub_comments_class_init (PrdHubCommentsClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = prd_hub_comments_dispose;
  object_class->finalize = prd_hub_comments_finalize;

  /**
   * PrdHubComments::notifications-recorded:
   * @announce: (type PrdHubAnnounce): the notifications and activities a
   *   comment, reply or resolve stored with it
   *
   * Emitted once the change has committed, after its room heard of it and
   * before the ack: what it announced is on disk and can be delivered.
   */
  signals[SIGNAL_NOTIFICATIONS_RECORDED] =
      g_signal_new ("notifications-recorded", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                    NULL, NULL, G_TYPE_NONE, 1, PRD_TYPE_HUB_ANNOUNCE | G_SIGNAL_TYPE_STATIC_SCOPE);
}

static void
prd_hub_comments_init (PrdHubComments *self)
{
  self->by_prd =
      g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_ptr_array_unref);
  self->comments =
      g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) comment_free);
  self->pending = g_ptr_array_new ();
  self->answers = prd_hub_answer_cache_new (MAX_ANSWERS, MAX_ANSWER_BYTES);
}

static void
on_comments_read (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  PrdHubComments *self = g_task_get_task_data (task);
  g_autoptr (GPtrArray) records = NULL;
  PrdSioNamespace *nsp;
  GError *error = NULL;

  records = prd_comment_store_load_finish (PRD_COMMENT_STORE (source), result, &error);
  if (records == NULL || !load_comments (self, records, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  nsp = prd_hub_room_registry_get_namespace (self->rooms);
  if (nsp == NULL)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                               "The hub went away while the comments were read");
      return;
    }
  prd_hub_add_events (nsp, events, G_N_ELEMENTS (events), self);
  g_task_return_pointer (task, g_object_ref (self), g_object_unref);
}

/**
 * prd_hub_comments_new_async:
 * @rooms: the rooms of /prds (comments ride on them)
 * @comments: where comments and their replies are kept
 * @cancellable: (nullable): stops the loading
 * @callback: called once the comments are loaded
 * @user_data: data for @callback
 *
 * Loads every comment, then installs the handlers on the namespace of
 * @rooms. Call before the hub listens.
 */
void
prd_hub_comments_new_async (PrdHubRoomRegistry *rooms,
                            PrdCommentStore *comments,
                            GCancellable *cancellable,
                            GAsyncReadyCallback callback,
                            gpointer user_data)
{
  PrdHubComments *self;
  g_autoptr (GTask) task = NULL;

  g_return_if_fail (PRD_IS_HUB_ROOM_REGISTRY (rooms));
  g_return_if_fail (PRD_IS_COMMENT_STORE (comments));

  self = g_object_new (PRD_TYPE_HUB_COMMENTS, NULL);
  self->rooms = g_object_ref (rooms);
  self->comment_store = g_object_ref (comments);
  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, prd_hub_comments_new_async);
  g_task_set_task_data (task, self, g_object_unref);
  prd_comment_store_load_async (comments, cancellable, on_comments_read, g_steal_pointer (&task));
}

/**
 * prd_hub_comments_new_finish:
 *
 * Returns: (transfer full) (nullable): the comments feature, or %NULL with
 *   @error set when the comments cannot be read
 */
PrdHubComments *
prd_hub_comments_new_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
