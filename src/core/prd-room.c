/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * PrdRoom: membership, colours and presence of one PRD.
 *
 * Colours: a user's preferred palette index is a hash of the PRD id and the
 * user id, so the colour is the same every time they open that PRD; when a
 * present user already has it, the next free index is taken, so colours are
 * distinct among the users present (up to PRD_ROOM_N_COLORS users).
 *
 * Presence: each member (connection) has its own status, cursor and
 * selection; a user is shown with the presence of their member that changed
 * last. Status is not kept per user, so what one tab set (the hub's
 * "ai-prompting" for the tab that asked the AI, say) ends with that tab.
 */
#define G_LOG_DOMAIN "prd-core"

#include "config.h"

#include "prd-error.h"

#include "prd-room.h"

static const char *const palette[PRD_ROOM_N_COLORS] = {
  "#8B5CF6", "#EC4899", "#3B82F6", "#10B981", "#F59E0B", "#EF4444",
  "#06B6D4", "#84CC16", "#F97316", "#6366F1", "#14B8A6", "#A855F7",
};

typedef struct
{
  char *user_id;
  char *name;
  char *avatar;
  guint color;
  guint n_connections;
} User;

typedef struct
{
  char *conn_id;
  User *user; /* (unowned) */
  gboolean edit;
  int site;
  char *status;
  guint64 changed; /* the room's change count when this changed, 0: never */
  gboolean has_cursor;
  PrdCrdtAnchor cursor;
  gboolean has_selection;
  PrdCrdtAnchor selection_start;
  PrdCrdtAnchor selection_end;
  gint64 timestamp; /* ms */
} Member;

struct _PrdRoom
{
  GObject parent_instance;

  PrdDocument *document; /* (owned) */
  GHashTable *members;   /* conn id → (owned) Member */
  GHashTable *users;     /* user id → (owned) User */
  GPtrArray *user_order; /* (element-type User) (unowned): join order */
  guint64 n_changes;     /* presence changes so far: orders the members' */
};

enum
{
  SIGNAL_USER_JOINED,
  SIGNAL_USER_LEFT,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (PrdRoom, prd_room, G_TYPE_OBJECT)

const char *
prd_room_color_at (guint index)
{
  g_return_val_if_fail (index < PRD_ROOM_N_COLORS, NULL);
  return palette[index];
}

guint
prd_room_preferred_color (const char *prd_id, const char *user_id)
{
  /* FNV-1a: stable across runs and platforms, unlike g_str_hash's contract. */
  guint32 hash = 2166136261u;

  for (const char *p = prd_id; *p != '\0'; p++)
    hash = (hash ^ (guchar) *p) * 16777619u;
  hash = (hash ^ 0) * 16777619u;
  for (const char *p = user_id; *p != '\0'; p++)
    hash = (hash ^ (guchar) *p) * 16777619u;
  return hash % PRD_ROOM_N_COLORS;
}

static void
user_free (User *user)
{
  g_free (user->user_id);
  g_free (user->name);
  g_free (user->avatar);
  g_free (user);
}

static void
member_free (Member *member)
{
  g_free (member->conn_id);
  g_free (member->status);
  g_free (member);
}

static void
prd_room_finalize (GObject *object)
{
  PrdRoom *self = PRD_ROOM (object);

  g_clear_pointer (&self->members, g_hash_table_unref);
  g_clear_pointer (&self->user_order, g_ptr_array_unref);
  g_clear_pointer (&self->users, g_hash_table_unref);
  g_clear_object (&self->document);

  G_OBJECT_CLASS (prd_room_parent_class)->finalize (object);
}

static void
prd_room_class_init (PrdRoomClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = prd_room_finalize;

  signals[SIGNAL_USER_JOINED] =
      g_signal_new ("user-joined", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                    NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
  signals[SIGNAL_USER_LEFT] =
      g_signal_new ("user-left", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                    G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_STRING);
}

static void
prd_room_init (PrdRoom *self)
{
  self->members =
      g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) member_free);
  self->users = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) user_free);
  self->user_order = g_ptr_array_new ();
}

PrdRoom *
prd_room_new (PrdDocument *document)
{
  PrdRoom *self;

  g_return_val_if_fail (PRD_IS_DOCUMENT (document), NULL);

  self = g_object_new (PRD_TYPE_ROOM, NULL);
  self->document = g_object_ref (document);
  return self;
}

PrdDocument *
prd_room_get_document (PrdRoom *self)
{
  g_return_val_if_fail (PRD_IS_ROOM (self), NULL);
  return self->document;
}

static guint
pick_color (PrdRoom *self, const char *user_id)
{
  gboolean taken[PRD_ROOM_N_COLORS] = { FALSE };
  guint preferred = prd_room_preferred_color (prd_document_get_id (self->document), user_id);

  for (guint i = 0; i < self->user_order->len; i++)
    taken[((User *) g_ptr_array_index (self->user_order, i))->color] = TRUE;
  for (guint i = 0; i < PRD_ROOM_N_COLORS; i++)
    {
      guint candidate = (preferred + i) % PRD_ROOM_N_COLORS;

      if (!taken[candidate])
        return candidate;
    }
  /* More users than colours: stay stable rather than distinct. */
  return preferred;
}

/**
 * prd_room_add_member:
 * @conn_id: the connection's id, unique in the hub
 * @edit: whether the connection joined in edit mode
 * @site: its site, or -1 (view mode)
 *
 * Returns: %TRUE when this is the user's first connection in the room (the
 *   room then emitted "user-joined")
 */
gboolean
prd_room_add_member (PrdRoom *self,
                     const char *conn_id,
                     const char *user_id,
                     const char *name,
                     const char *avatar,
                     gboolean edit,
                     int site)
{
  Member *member;
  User *user;
  gboolean is_new = FALSE;

  g_return_val_if_fail (PRD_IS_ROOM (self), FALSE);
  g_return_val_if_fail (conn_id != NULL && user_id != NULL, FALSE);
  g_return_val_if_fail (!g_hash_table_contains (self->members, conn_id), FALSE);

  user = g_hash_table_lookup (self->users, user_id);
  if (user == NULL)
    {
      user = g_new0 (User, 1);
      user->user_id = g_strdup (user_id);
      user->name = g_strdup (name != NULL ? name : user_id);
      user->avatar = g_strdup (avatar);
      user->color = pick_color (self, user_id);
      g_hash_table_insert (self->users, user->user_id, user);
      g_ptr_array_add (self->user_order, user);
      is_new = TRUE;
    }
  user->n_connections++;

  member = g_new0 (Member, 1);
  member->conn_id = g_strdup (conn_id);
  member->user = user;
  member->edit = edit;
  member->site = site;
  member->status = g_strdup ("viewing");
  member->timestamp = g_get_real_time () / 1000;
  g_hash_table_insert (self->members, member->conn_id, member);

  if (is_new)
    g_signal_emit (self, signals[SIGNAL_USER_JOINED], 0, user_id);
  return is_new;
}

/**
 * prd_room_remove_member:
 *
 * Returns: %TRUE when @conn_id was a member
 */
gboolean
prd_room_remove_member (PrdRoom *self, const char *conn_id)
{
  Member *member;
  User *user;

  g_return_val_if_fail (PRD_IS_ROOM (self), FALSE);

  member = g_hash_table_lookup (self->members, conn_id);
  if (member == NULL)
    return FALSE;
  user = member->user;
  g_hash_table_remove (self->members, conn_id);
  if (--user->n_connections == 0)
    {
      g_autofree char *user_id = g_strdup (user->user_id);
      g_autofree char *name = g_strdup (user->name);

      g_ptr_array_remove (self->user_order, user);
      g_hash_table_remove (self->users, user_id);
      g_signal_emit (self, signals[SIGNAL_USER_LEFT], 0, user_id, name);
    }
  return TRUE;
}

/* Records that @member's presence changed now. A count rather than the
 * clock: two changes within a millisecond still have an order. */
static void
member_changed (PrdRoom *self, Member *member, const char *status)
{
  g_free (member->status);
  member->status = g_strdup (status);
  member->changed = ++self->n_changes;
  member->timestamp = g_get_real_time () / 1000;
}

/* The member of @user whose presence changed last; among members that never
 * changed (all "viewing", nowhere) any. */
static Member *
latest_member (PrdRoom *self, User *user)
{
  GHashTableIter iter;
  Member *member;
  Member *latest = NULL;

  g_hash_table_iter_init (&iter, self->members);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &member))
    if (member->user == user && (latest == NULL || member->changed > latest->changed))
      latest = member;
  return latest;
}

/**
 * prd_room_get_latest_member:
 *
 * Returns: (nullable): the connection of @user_id whose presence changed
 *   last (the one a user is shown with), or %NULL when the user has none
 *   in the room
 */
const char *
prd_room_get_latest_member (PrdRoom *self, const char *user_id)
{
  User *user;
  Member *latest;

  g_return_val_if_fail (PRD_IS_ROOM (self), NULL);

  user = g_hash_table_lookup (self->users, user_id);
  latest = user != NULL ? latest_member (self, user) : NULL;
  return latest != NULL ? latest->conn_id : NULL;
}

gboolean
prd_room_has_member (PrdRoom *self, const char *conn_id)
{
  g_return_val_if_fail (PRD_IS_ROOM (self), FALSE);
  return g_hash_table_contains (self->members, conn_id);
}

guint
prd_room_get_n_members (PrdRoom *self)
{
  g_return_val_if_fail (PRD_IS_ROOM (self), 0);
  return g_hash_table_size (self->members);
}

guint
prd_room_get_n_users (PrdRoom *self)
{
  g_return_val_if_fail (PRD_IS_ROOM (self), 0);
  return self->user_order->len;
}

gboolean
prd_room_member_can_edit (PrdRoom *self, const char *conn_id)
{
  Member *member = g_hash_table_lookup (self->members, conn_id);

  return member != NULL && member->edit && member->site >= 0;
}

int
prd_room_member_get_site (PrdRoom *self, const char *conn_id)
{
  Member *member = g_hash_table_lookup (self->members, conn_id);

  return member != NULL ? member->site : -1;
}

const char *
prd_room_member_get_user_id (PrdRoom *self, const char *conn_id)
{
  Member *member = g_hash_table_lookup (self->members, conn_id);

  return member != NULL ? member->user->user_id : NULL;
}

/**
 * prd_room_member_get_status:
 *
 * Returns: (transfer none) (nullable): the presence status ("viewing",
 *   "editing", "ai-prompting") of the connection @conn_id, %NULL for no
 *   member
 */
const char *
prd_room_member_get_status (PrdRoom *self, const char *conn_id)
{
  Member *member;

  g_return_val_if_fail (PRD_IS_ROOM (self), NULL);

  member = g_hash_table_lookup (self->members, conn_id);
  return member != NULL ? member->status : NULL;
}

gboolean
prd_room_site_is_held (PrdRoom *self, int site)
{
  GHashTableIter iter;
  Member *member;

  g_hash_table_iter_init (&iter, self->members);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &member))
    if (member->site == site)
      return TRUE;
  return FALSE;
}

/**
 * prd_room_get_busy_sites:
 *
 * Returns: (transfer full) (element-type int): the sites live connections hold
 */
GArray *
prd_room_get_busy_sites (PrdRoom *self)
{
  GArray *sites = g_array_new (FALSE, FALSE, sizeof (int));
  GHashTableIter iter;
  Member *member;

  g_hash_table_iter_init (&iter, self->members);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &member))
    if (member->site >= 0)
      g_array_append_val (sites, member->site);
  return sites;
}

const char *
prd_room_get_user_color (PrdRoom *self, const char *user_id)
{
  User *user = g_hash_table_lookup (self->users, user_id);

  return user != NULL ? palette[user->color] : NULL;
}

/* The version in which @member's positions are read and the room's are
 * resolved: what the room has been sent, i.e. the committed operations
 * (each is broadcast as it commits), and, for @member's own, those of its
 * site, which its text holds before the hub has committed them. %NULL: the
 * current text, which is that version while nothing waits for the store. */
static GArray *
version_of (PrdRoom *self, Member *member)
{
  GArray *vector;
  guint32 own;

  if (!prd_document_has_uncommitted (self->document))
    return NULL;
  vector = prd_document_get_committed_vector (self->document);
  if (member != NULL && member->site >= 0 &&
      (own = prd_crdt_doc_get_site_ops (prd_document_get_crdt (self->document),
                                        (guint32) member->site)) > 0)
    {
      if (vector->len <= (guint) member->site)
        g_array_set_size (vector, member->site + 1);
      g_array_index (vector, guint32, member->site) = own;
    }
  return vector;
}

/* Calls @func on the document's text as of @vector (version_of()). */
static void
read_at (PrdRoom *self, GArray *vector, PrdCrdtReadFunc func, gpointer user_data)
{
  PrdCrdtDoc *crdt = prd_document_get_crdt (self->document);
  g_autoptr (GError) error = NULL;

  if (vector == NULL)
    func (crdt, user_data);
  else if (!prd_crdt_doc_read_at_version (crdt, (const guint32 *) vector->data, vector->len, func,
                                          user_data, &error))
    {
      /* The committed operations are integrated: not reached. */
      g_critical ("%s: cannot read the committed text: %s", prd_document_get_id (self->document),
                  error->message);
      func (crdt, user_data);
    }
}

static gboolean
read_position (JsonNode *node, const char *what, guint32 *out, GError **error)
{
  gint64 value;

  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD, "%s must be an integer", what);
      return FALSE;
    }
  value = json_node_get_int (node);
  if (value < 0 || value > G_MAXUINT32)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD, "%s must be between 0 and %u", what,
                   G_MAXUINT32);
      return FALSE;
    }
  *out = (guint32) value;
  return TRUE;
}

static gboolean
anchor_at (PrdCrdtDoc *crdt,
           guint32 position,
           PrdCrdtAssoc assoc,
           const char *what,
           PrdCrdtAnchor *anchor,
           GError **error)
{
  g_autoptr (GError) local_error = NULL;

  /* A client that is a few operations behind may point past the end; the
   * end is where its caret is in the hub's text. It may also point between
   * the two halves of a pair the hub has there; its caret is before the
   * pair. */
  position = MIN (position, prd_crdt_doc_get_length (crdt));
  if (position > 0 && prd_crdt_doc_splits_surrogate (crdt, position))
    position--;
  if (!prd_crdt_doc_anchor_at (crdt, position, assoc, anchor, &local_error))
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD, "%s: %s", what,
                   local_error->message);
      return FALSE;
    }
  return TRUE;
}

/* A presence-update's positions, read then anchored (place()). */
typedef struct
{
  gboolean has_cursor;
  gboolean has_selection;
  guint32 cursor_position;
  guint32 start;
  guint32 end;
  PrdCrdtAnchor cursor;
  PrdCrdtAnchor selection_start;
  PrdCrdtAnchor selection_end;
  GError *error;
} Placing;

static void
place (PrdCrdtDoc *crdt, gpointer user_data)
{
  Placing *placing = user_data;
  guint32 length = prd_crdt_doc_get_length (crdt);

  if (placing->has_cursor && !anchor_at (crdt, placing->cursor_position, PRD_CRDT_ASSOC_BEFORE,
                                         "cursorPosition", &placing->cursor, &placing->error))
    return;
  if (!placing->has_selection)
    return;
  /* Compared where they are taken to be (past the end: the end). */
  if (MIN (placing->start, length) > MIN (placing->end, length))
    {
      g_set_error_literal (&placing->error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
                           "selection.start must not be after selection.end");
      return;
    }
  if (!anchor_at (crdt, placing->start, PRD_CRDT_ASSOC_AFTER, "selection.start",
                  &placing->selection_start, &placing->error))
    return;
  anchor_at (crdt, placing->end, PRD_CRDT_ASSOC_BEFORE, "selection.end", &placing->selection_end,
             &placing->error);
}

/**
 * prd_room_update_presence:
 * @payload: the seed's presence-update object
 *
 * Validates @payload and, only when it is entirely valid, records the
 * member's status, cursor and selection (as anchors). Positions are read
 * in the text the member has: what the room has been sent and the member's
 * own operations.
 */
gboolean
prd_room_update_presence (PrdRoom *self, const char *conn_id, JsonObject *payload, GError **error)
{
  static const char *const statuses[] = { "viewing", "editing", "ai-prompting", NULL };
  g_autoptr (GArray) version = NULL;
  Placing placing = { 0 };
  Member *member;
  JsonNode *status_node, *cursor_node, *selection_node;
  const char *status = NULL;

  g_return_val_if_fail (PRD_IS_ROOM (self), FALSE);

  member = g_hash_table_lookup (self->members, conn_id);
  if (member == NULL)
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_NOT_JOINED, "Join the PRD first");
      return FALSE;
    }

  status_node = json_object_get_member (payload, "status");
  if (status_node == NULL || !JSON_NODE_HOLDS_VALUE (status_node) ||
      json_node_get_value_type (status_node) != G_TYPE_STRING ||
      !g_strv_contains (statuses, json_node_get_string (status_node)))
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
                           "status must be \"viewing\", \"editing\" or \"ai-prompting\"");
      return FALSE;
    }
  status = json_node_get_string (status_node);

  cursor_node = json_object_get_member (payload, "cursorPosition");
  if (cursor_node != NULL && !JSON_NODE_HOLDS_NULL (cursor_node))
    {
      if (!read_position (cursor_node, "cursorPosition", &placing.cursor_position, error))
        return FALSE;
      placing.has_cursor = TRUE;
    }

  selection_node = json_object_get_member (payload, "selection");
  if (selection_node != NULL && !JSON_NODE_HOLDS_NULL (selection_node))
    {
      JsonObject *selection;
      JsonNode *start_node, *end_node;

      if (!JSON_NODE_HOLDS_OBJECT (selection_node))
        {
          g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
                               "selection must be an object {start, end}");
          return FALSE;
        }
      selection = json_node_get_object (selection_node);
      start_node = json_object_get_member (selection, "start");
      end_node = json_object_get_member (selection, "end");
      if (start_node == NULL || end_node == NULL)
        {
          g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
                               "selection needs start and end");
          return FALSE;
        }
      if (!read_position (start_node, "selection.start", &placing.start, error) ||
          !read_position (end_node, "selection.end", &placing.end, error))
        return FALSE;
      placing.has_selection = TRUE;
    }

  if (placing.has_cursor || placing.has_selection)
    {
      version = version_of (self, member);
      read_at (self, version, place, &placing);
      if (placing.error != NULL)
        {
          g_propagate_error (error, placing.error);
          return FALSE;
        }
    }

  member->has_cursor = placing.has_cursor;
  member->cursor = placing.cursor;
  member->has_selection = placing.has_selection;
  member->selection_start = placing.selection_start;
  member->selection_end = placing.selection_end;
  member_changed (self, member, status);
  return TRUE;
}

JsonNode *
prd_room_build_user (PrdRoom *self, const char *user_id, gboolean with_site)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  User *user;

  g_return_val_if_fail (PRD_IS_ROOM (self), NULL);

  user = g_hash_table_lookup (self->users, user_id);
  g_return_val_if_fail (user != NULL, NULL);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "userId");
  json_builder_add_string_value (builder, user->user_id);
  json_builder_set_member_name (builder, "name");
  json_builder_add_string_value (builder, user->name);
  json_builder_set_member_name (builder, "avatar");
  if (user->avatar != NULL)
    json_builder_add_string_value (builder, user->avatar);
  else
    json_builder_add_null_value (builder);
  json_builder_set_member_name (builder, "status");
  json_builder_add_string_value (builder, latest_member (self, user)->status);
  json_builder_set_member_name (builder, "color");
  json_builder_add_string_value (builder, palette[user->color]);
  if (with_site)
    {
      GHashTableIter iter;
      Member *member;
      int site = -1;

      /* A user's lowest held site: the one their first editor tab has. */
      g_hash_table_iter_init (&iter, self->members);
      while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &member))
        if (member->user == user && member->site >= 0 && (site < 0 || member->site < site))
          site = member->site;
      if (site >= 0)
        {
          json_builder_set_member_name (builder, "siteId");
          json_builder_add_int_value (builder, site);
        }
    }
  json_builder_end_object (builder);
  return json_builder_get_root (builder);
}

JsonNode *
prd_room_build_active_users (PrdRoom *self)
{
  JsonArray *array;
  JsonNode *node;

  g_return_val_if_fail (PRD_IS_ROOM (self), NULL);

  array = json_array_sized_new (self->user_order->len);
  for (guint i = 0; i < self->user_order->len; i++)
    {
      User *user = g_ptr_array_index (self->user_order, i);

      json_array_add_element (array, prd_room_build_user (self, user->user_id, TRUE));
    }
  node = json_node_new (JSON_NODE_ARRAY);
  json_node_take_array (node, array);
  return node;
}

static guint32
resolve (PrdCrdtDoc *crdt, const PrdCrdtAnchor *anchor)
{
  guint32 position = 0;

  if (!prd_crdt_doc_anchor_resolve (crdt, anchor, &position, NULL))
    return 0;
  return position;
}

/* A member's positions, resolved (resolve_member()). */
typedef struct
{
  Member *member; /* (unowned) */
  guint32 cursor;
  guint32 start;
  guint32 end;
} Resolving;

static void
resolve_member (PrdCrdtDoc *crdt, gpointer user_data)
{
  Resolving *resolving = user_data;
  Member *member = resolving->member;

  if (member->has_cursor)
    resolving->cursor = resolve (crdt, &member->cursor);
  if (member->has_selection)
    {
      resolving->start = resolve (crdt, &member->selection_start);
      resolving->end = resolve (crdt, &member->selection_end);
    }
}

/**
 * prd_room_build_presence:
 *
 * Returns: (transfer full) (nullable): the seed's §3.2 presence object for
 *   @conn_id with positions resolved in the text the room has been sent
 *   (the committed operations, each broadcast as it committed: not those
 *   still on their way to the store, which no other member has); %NULL
 *   when @conn_id is not a member
 */
JsonNode *
prd_room_build_presence (PrdRoom *self, const char *conn_id)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  Resolving resolving = { 0 };
  Member *member;

  g_return_val_if_fail (PRD_IS_ROOM (self), NULL);

  member = g_hash_table_lookup (self->members, conn_id);
  if (member == NULL)
    return NULL;
  resolving.member = member;
  if (member->has_cursor || member->has_selection)
    {
      g_autoptr (GArray) version = version_of (self, NULL);

      read_at (self, version, resolve_member, &resolving);
    }

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "prdId");
  json_builder_add_string_value (builder, prd_document_get_id (self->document));
  json_builder_set_member_name (builder, "userId");
  json_builder_add_string_value (builder, member->user->user_id);
  json_builder_set_member_name (builder, "userName");
  json_builder_add_string_value (builder, member->user->name);
  json_builder_set_member_name (builder, "avatar");
  if (member->user->avatar != NULL)
    json_builder_add_string_value (builder, member->user->avatar);
  else
    json_builder_add_null_value (builder);
  json_builder_set_member_name (builder, "status");
  json_builder_add_string_value (builder, member->status);
  json_builder_set_member_name (builder, "cursorPosition");
  if (member->has_cursor)
    json_builder_add_int_value (builder, resolving.cursor);
  else
    json_builder_add_null_value (builder);
  json_builder_set_member_name (builder, "selection");
  if (member->has_selection)
    {
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "start");
      json_builder_add_int_value (builder, MIN (resolving.start, resolving.end));
      json_builder_set_member_name (builder, "end");
      json_builder_add_int_value (builder, resolving.end);
      json_builder_end_object (builder);
    }
  else
    json_builder_add_null_value (builder);
  json_builder_set_member_name (builder, "color");
  json_builder_add_string_value (builder, palette[member->user->color]);
  json_builder_set_member_name (builder, "timestamp");
  json_builder_add_int_value (builder, member->timestamp);
  json_builder_end_object (builder);
  return json_builder_get_root (builder);
}

/**
 * prd_room_set_status:
 * @status: "viewing", "editing" or "ai-prompting"
 *
 * Changes only the status of the connection @conn_id (the hub's own
 * changes, e.g. while an AI job it asked for runs); cursor and selection
 * stay. The status ends with the connection: once it left, its user is
 * shown with the presence of their remaining connection that changed last.
 *
 * Returns: %TRUE when @conn_id is a member (its status changed)
 */
gboolean
prd_room_set_status (PrdRoom *self, const char *conn_id, const char *status)
{
  Member *member;

  g_return_val_if_fail (PRD_IS_ROOM (self), FALSE);
  g_return_val_if_fail (g_strcmp0 (status, "viewing") == 0 || g_strcmp0 (status, "editing") == 0 ||
                            g_strcmp0 (status, "ai-prompting") == 0,
                        FALSE);

  member = g_hash_table_lookup (self->members, conn_id);
  if (member == NULL)
    return FALSE;
  member_changed (self, member, status);
  return TRUE;
}
