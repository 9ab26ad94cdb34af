/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Conflict review on /prds: `conflict-detected`, `resolve-conflict`,
 * `conflict-resolved` (docs/protocol.md, "Conflict review").
 *
 * Every client operation, once committed, is compared with a window of the
 * PRD's recent edits by the rule of prd-conflict.h. A conflict is written
 * to the store before either party hears of it; open conflicts are held in
 * memory (loaded when the hub starts) because each `joined-prd` lists the
 * joiner's. A resolution is made of ordinary operations of the hub's own
 * site (user `hub`), broadcast as content-updates naming the resolver; the
 * conflict's row is deleted after them, and `conflict-resolved` and the ack
 * follow that commit.
 *
 * An edit is undone once: the resolution that undoes it marks its party in
 * every other open conflict over it (rewritten in the same commit as the
 * row's deletion) and in the window; a later resolution that would undo it
 * again changes no text and answers `alreadyUndone`. A conflict raised
 * with an edit undone before records that too: that undo's copies stand in
 * for the delete's characters, so undoing the later delete leaves them out.
 */
#define G_LOG_DOMAIN "prd-hub-conflicts"

#include "config.h"

#include "prd-conflict.h"
#include "prd-error.h"
#include "prd-hub-context.h"
#include "prd-hub-config-collab.h"
#include "prd-json.h"

#include "prd-hub-conflicts.h"

typedef struct
{
  char *user_id;
  char *user_name;
  PrdCrdtOpType type;
  char *text;
  PrdCrdtAnchor start;
  PrdCrdtAnchor end;
  /* the edit's operation; @seq is 0 in a row written before rows kept it */
  guint32 site;
  guint32 seq;
  /* a resolution of another conflict undid the operation: undoing it again
   * changes nothing */
  gboolean undone;
  /* it was undone before this conflict was raised: its deleted characters
   * are back as new ones, which the other edit never saw, so the originals
   * stay out of what undoing the other edit puts back */
  gboolean undone_before;
} Party;

typedef struct
{
  char *id;
  char *prd_id;
  guint32 position;
  gint64 created_at;
  Party parties[2]; /* the earlier-integrated edit, then the later one */
  gboolean resolving;
} Conflict;

struct _PrdHubConflicts
{
  GObject parent_instance;

  PrdHubRoomRegistry *rooms;        /* (owned) */
  PrdStore *store;                  /* (owned) */
  PrdConflictStore *conflict_store; /* (owned) */
  PrdHubConfig *config;             /* (owned) */
  GHashTable *windows;              /* prd id → (owned) PrdConflictWindow */
  GHashTable *conflicts;            /* id → (owned) Conflict, open ones */
  /* prd id → GUINT_TO_POINTER (conflicts raised and still being stored):
   * they count against PRD_HUB_CONFLICTS_MAX_OPEN as the stored ones do */
  GHashTable *storing;
  GCancellable *cancellable;
  guint sweep_id;
};

G_DEFINE_FINAL_TYPE (PrdHubConflicts, prd_hub_conflicts, G_TYPE_OBJECT)

static void
conflict_free (Conflict *conflict)
{
  g_free (conflict->id);
  g_free (conflict->prd_id);
  for (guint i = 0; i < 2; i++)
    {
      g_free (conflict->parties[i].user_id);
      g_free (conflict->parties[i].user_name);
      g_free (conflict->parties[i].text);
    }
  g_free (conflict);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Conflict, conflict_free)

/* ---- JSON forms ------------------------------------------------------------ */

static JsonNode *
anchor_to_json (const PrdCrdtAnchor *anchor)
{
  JsonObject *object = json_object_new ();
  JsonNode *node = json_node_new (JSON_NODE_OBJECT);

  if (anchor->has_id)
    {
      json_object_set_int_member (object, "site", anchor->id.site);
      json_object_set_int_member (object, "clock", anchor->id.clock);
    }
  json_object_set_boolean_member (object, "before", anchor->assoc == PRD_CRDT_ASSOC_BEFORE);
  json_node_take_object (node, object);
  return node;
}

static gboolean
anchor_from_json (JsonObject *object, PrdCrdtAnchor *anchor)
{
  if (object == NULL)
    return FALSE;
  anchor->has_id = json_object_has_member (object, "site");
  anchor->id.site = (guint32) json_object_get_int_member_with_default (object, "site", 0);
  anchor->id.clock = (guint32) json_object_get_int_member_with_default (object, "clock", 0);
  anchor->assoc = json_object_get_boolean_member_with_default (object, "before", FALSE)
                      ? PRD_CRDT_ASSOC_BEFORE
                      : PRD_CRDT_ASSOC_AFTER;
  return TRUE;
}

static char *
parties_to_string (const Conflict *conflict)
{
  g_autoptr (JsonNode) root = json_node_new (JSON_NODE_ARRAY);
  JsonArray *array = json_array_new ();

  json_node_take_array (root, array);
  for (guint i = 0; i < 2; i++)
    {
      const Party *party = &conflict->parties[i];
      JsonObject *object = json_object_new ();

      json_object_set_string_member (object, "userId", party->user_id);
      json_object_set_string_member (object, "userName", party->user_name);
      json_object_set_string_member (object, "type",
                                     party->type == PRD_CRDT_OP_INSERT ? "insert" : "delete");
      json_object_set_string_member (object, "text", party->text);
      json_object_set_member (object, "start", anchor_to_json (&party->start));
      json_object_set_member (object, "end", anchor_to_json (&party->end));
      json_object_set_int_member (object, "site", party->site);
      json_object_set_int_member (object, "seq", party->seq);
      json_object_set_boolean_member (object, "undone", party->undone);
      json_object_set_boolean_member (object, "undoneBefore", party->undone_before);
      json_array_add_object_element (array, object);
    }
  return prd_json_to_string (root);
}

static gboolean
parties_from_string (Conflict *conflict, const char *text)
{
  g_autoptr (JsonNode) root = NULL;
  JsonArray *array;

  if (text == NULL)
    return FALSE;
  /* the hub wrote the row from edits whose size it had bounded already */
  root = prd_json_parse (text, -1, G_MAXSIZE, NULL);
  if (root == NULL || !JSON_NODE_HOLDS_ARRAY (root))
    return FALSE;
  array = json_node_get_array (root);
  if (json_array_get_length (array) != 2)
    return FALSE;
  for (guint i = 0; i < 2; i++)
    {
      JsonNode *node = json_array_get_element (array, i);
      JsonObject *object;
      Party *party = &conflict->parties[i];

      if (!JSON_NODE_HOLDS_OBJECT (node))
        return FALSE;
      object = json_node_get_object (node);
      party->user_id =
          g_strdup (json_object_get_string_member_with_default (object, "userId", NULL));
      party->user_name =
          g_strdup (json_object_get_string_member_with_default (object, "userName", NULL));
      party->text = g_strdup (json_object_get_string_member_with_default (object, "text", NULL));
      party->type =
          g_strcmp0 (json_object_get_string_member_with_default (object, "type", ""), "insert") == 0
              ? PRD_CRDT_OP_INSERT
              : PRD_CRDT_OP_DELETE;
      party->site = (guint32) json_object_get_int_member_with_default (object, "site", 0);
      party->seq = (guint32) json_object_get_int_member_with_default (object, "seq", 0);
      party->undone = json_object_get_boolean_member_with_default (object, "undone", FALSE);
      party->undone_before =
          json_object_get_boolean_member_with_default (object, "undoneBefore", FALSE);
      if (party->user_id == NULL || party->user_name == NULL || party->text == NULL ||
          !json_object_has_member (object, "start") || !json_object_has_member (object, "end") ||
          !anchor_from_json (json_object_get_object_member (object, "start"), &party->start) ||
          !anchor_from_json (json_object_get_object_member (object, "end"), &party->end))
        return FALSE;
    }
  return TRUE;
}

static int
party_of (const Conflict *conflict, const char *user_id)
{
  for (int i = 0; i < 2; i++)
    if (g_strcmp0 (conflict->parties[i].user_id, user_id) == 0)
      return i;
  return -1;
}

/* Whether @a and @b are one operation (rows that predate `seq` are never). */
static gboolean
same_op (const Party *a, const Party *b)
{
  return a->seq > 0 && a->site == b->site && a->seq == b->seq;
}

static gboolean
party_range (const Party *party, PrdCrdtDoc *doc, guint32 *out_start, guint32 *out_end)
{
  guint32 start, end;

  if (!party->start.has_id || !prd_crdt_doc_anchor_resolve (doc, &party->start, &start, NULL) ||
      !prd_crdt_doc_anchor_resolve (doc, &party->end, &end, NULL))
    return FALSE;
  *out_start = MIN (start, end);
  *out_end = MAX (start, end);
  return TRUE;
}

/* Where the conflict is now: the start of its two ranges. */
static guint32
conflict_position (PrdHubConflicts *self, const Conflict *conflict)
{
  PrdDocument *document = prd_hub_room_registry_peek_document (self->rooms, conflict->prd_id);
  guint32 position = G_MAXUINT32, start, end;

  for (guint i = 0; document != NULL && i < 2; i++)
    if (party_range (&conflict->parties[i], prd_document_get_crdt (document), &start, &end))
      position = MIN (position, start);
  return position != G_MAXUINT32 ? position : conflict->position;
}

/* The seed's entry, as @user_id (a party) sees it. */
static JsonObject *
conflict_view (PrdHubConflicts *self, const Conflict *conflict, int party)
{
  JsonObject *object = json_object_new ();

  json_object_set_int_member (object, "position", conflict_position (self, conflict));
  json_object_set_string_member (object, "yourChange", conflict->parties[party].text);
  json_object_set_string_member (object, "theirChange", conflict->parties[1 - party].text);
  json_object_set_string_member (object, "conflictId", conflict->id);
  return object;
}

/* Sends `conflict-detected` to every connection of the conflict's parties
 * that has joined its PRD. */
static void
send_detected (PrdHubConflicts *self, const Conflict *conflict)
{
  PrdSioNamespace *nsp = prd_hub_room_registry_get_namespace (self->rooms);
  g_autofree char *room_name = g_strconcat ("prd:", conflict->prd_id, NULL);
  g_autoptr (GPtrArray) sockets = NULL;

  if (nsp == NULL)
    return;
  sockets = prd_sio_namespace_get_room_sockets (nsp, room_name);
  for (guint i = 0; i < sockets->len; i++)
    {
      PrdSioSocket *socket = g_ptr_array_index (sockets, i);
      PrdHubRoom *joined;
      PrdRoom *room;
      const char *user_id;
      g_autoptr (JsonNode) payload = NULL;
      JsonObject *object;
      JsonArray *list;
      int party;

      joined = prd_hub_room_registry_get_joined (self->rooms, socket, conflict->prd_id, NULL);
      if (joined == NULL || !prd_hub_room_is_open (joined))
        continue;
      room = prd_hub_room_get_members (joined);
      user_id = prd_room_member_get_user_id (room, prd_sio_socket_get_id (socket));
      party = party_of (conflict, user_id);
      if (party < 0)
        continue;
      payload = json_node_new (JSON_NODE_OBJECT);
      object = json_object_new ();
      json_node_take_object (payload, object);
      json_object_set_string_member (object, "prdId", conflict->prd_id);
      list = json_array_new ();
      json_array_add_object_element (list, conflict_view (self, conflict, party));
      json_object_set_array_member (object, "conflicts", list);
      prd_sio_socket_emit_one (socket, "conflict-detected", payload);
    }
}

/* ---- detection ------------------------------------------------------------- */

/* The open conflicts of @prd_id, those still being stored included: a
 * burst of edits raises many before the first store completes. */
static guint
n_open (PrdHubConflicts *self, const char *prd_id)
{
  GHashTableIter iter;
  Conflict *conflict;
  guint n = GPOINTER_TO_UINT (g_hash_table_lookup (self->storing, prd_id));

  g_hash_table_iter_init (&iter, self->conflicts);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &conflict))
    n += g_strcmp0 (conflict->prd_id, prd_id) == 0;
  return n;
}

typedef struct
{
  PrdHubConflicts *self; /* (owned) */
  Conflict *conflict;    /* (owned) */
  char *prd_id;          /* (owned): counted in self->storing */
} Raise;

/* @delta (+1 or -1) conflicts of @prd_id being stored. */
static void
count_storing (PrdHubConflicts *self, const char *prd_id, int delta)
{
  guint n = GPOINTER_TO_UINT (g_hash_table_lookup (self->storing, prd_id));

  g_return_if_fail (delta > 0 || n > 0);
  n = delta > 0 ? n + 1 : n - 1;
  if (n == 0)
    g_hash_table_remove (self->storing, prd_id);
  else
    g_hash_table_replace (self->storing, g_strdup (prd_id), GUINT_TO_POINTER (n));
}

static void
on_raised (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Raise *raise = user_data;
  PrdHubConflicts *self = raise->self;
  g_autoptr (GError) error = NULL;

  count_storing (self, raise->prd_id, -1);
  if (!prd_conflict_store_add_finish (PRD_CONFLICT_STORE (source), result, &error))
    g_warning ("Cannot store conflict %s: %s", raise->conflict->id, error->message);
  else
    {
      Conflict *conflict = g_steal_pointer (&raise->conflict);

      g_hash_table_insert (self->conflicts, conflict->id, conflict);
      send_detected (self, conflict);
    }
  g_clear_pointer (&raise->conflict, conflict_free);
  g_free (raise->prd_id);
  g_object_unref (raise->self);
  g_free (raise);
}

static void
party_from_edit (Party *party, PrdConflictEdit *edit, PrdCrdtDoc *doc)
{
  party->user_id = g_strdup (edit->user_id);
  party->user_name = g_strdup (edit->user_name);
  party->type = edit->type;
  party->text = g_strdup (prd_conflict_edit_get_text (edit, doc));
  party->start = edit->start;
  party->end = edit->end;
  party->site = edit->site;
  party->seq = edit->seq;
  party->undone = party->undone_before = edit->undone;
}

/**
 * prd_hub_conflicts_operation_committed:
 * @base: (nullable): the state vector a client's operation was made
 *   against; %NULL (the hub's own writes) is never compared
 *
 * Compares a committed operation with the recent ones of other users
 * (#PrdHubRoomRegistry::operation-committed).
 */
void
prd_hub_conflicts_operation_committed (PrdHubConflicts *self,
                                       PrdHubRoom *room,
                                       const PrdCrdtOp *op,
                                       GArray *base,
                                       guint32 client_position,
                                       const char *user_id,
                                       const char *user_name)
{
  const char *prd_id = prd_hub_room_get_prd_id (room);
  g_autoptr (GPtrArray) found = NULL;
  PrdConflictWindow *window;
  PrdConflictEdit *edit;
  PrdCrdtDoc *doc;
  guint open;

  g_return_if_fail (PRD_IS_HUB_CONFLICTS (self));

  if (base == NULL)
    return;
  doc = prd_document_get_crdt (prd_hub_room_get_document (room));
  window = g_hash_table_lookup (self->windows, prd_id);

  if (window == NULL)
    {
      window = prd_conflict_window_new (PRD_CONFLICT_DEFAULT_WINDOW_EDITS,
                                        PRD_CONFLICT_DEFAULT_WINDOW_AGE);
      g_hash_table_insert (self->windows, g_strdup (prd_id), window);
    }
  edit = prd_conflict_edit_new (op, (const guint32 *) base->data, base->len, client_position,
                                user_id, user_name, g_get_monotonic_time ());
  found = prd_conflict_window_add (window, doc, edit);
  open = found->len > 0 ? n_open (self, prd_id) : 0;
  for (guint i = 0; i < found->len; i++)
    {
      PrdConflictEdit *earlier = g_ptr_array_index (found, i);
      PrdConflictRecord record = { 0 };
      g_autofree char *parties = NULL;
      g_autofree char *uuid = NULL;
      Raise *raise;
      guint32 position = 0;

      if (open >= PRD_HUB_CONFLICTS_MAX_OPEN)
        {
          g_debug ("PRD %s has %u open conflicts; not raising more", prd_id, open);
          break;
        }
      open++;
      raise = g_new0 (Raise, 1);
      raise->self = g_object_ref (self);
      raise->conflict = g_new0 (Conflict, 1);
      uuid = g_uuid_string_random ();
      raise->conflict->id = g_strdup_printf ("conflict_%s", uuid);
      raise->conflict->prd_id = g_strdup (prd_id);
      raise->conflict->created_at = g_get_real_time () / 1000;
      prd_conflict_edits_conflict (earlier, edit, doc, &position);
      raise->conflict->position = position;
      party_from_edit (&raise->conflict->parties[0], earlier, doc);
      party_from_edit (&raise->conflict->parties[1], edit, doc);
      parties = parties_to_string (raise->conflict);
      record.id = raise->conflict->id;
      record.prd_id = raise->conflict->prd_id;
      record.position = position;
      record.created_at = raise->conflict->created_at;
      record.parties = parties;
      raise->prd_id = g_strdup (prd_id);
      count_storing (self, prd_id, +1);
      prd_conflict_store_add_async (self->conflict_store, &record, NULL, on_raised, raise);
    }
}

/* ---- joined-prd ------------------------------------------------------------ */

static int
compare_created (gconstpointer a, gconstpointer b)
{
  const Conflict *x = *(Conflict *const *) a, *y = *(Conflict *const *) b;

  if (x->created_at != y->created_at)
    return x->created_at < y->created_at ? -1 : 1;
  return g_strcmp0 (x->id, y->id);
}

/**
 * prd_hub_conflicts_prd_deleted:
 * @prd_id: a PRD that no longer exists
 *
 * Forgets the open conflicts and the recent edits of @prd_id (the store
 * deleted its conflicts with it).
 */
void
prd_hub_conflicts_prd_deleted (PrdHubConflicts *self, const char *prd_id)
{
  GHashTableIter iter;
  gpointer value;

  g_return_if_fail (PRD_IS_HUB_CONFLICTS (self));

  g_hash_table_remove (self->windows, prd_id);
  g_hash_table_iter_init (&iter, self->conflicts);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (g_str_equal (((Conflict *) value)->prd_id, prd_id))
      g_hash_table_iter_remove (&iter);
}

/**
 * prd_hub_conflicts_member_joined:
 * @joined: the `joined-prd` payload
 *
 * Adds the open conflicts of @user_id in the PRD
 * (#PrdHubRoomRegistry::member-joined).
 */
void
prd_hub_conflicts_member_joined (PrdHubConflicts *self,
                                 PrdHubRoom *room,
                                 PrdSioSocket *socket,
                                 const char *user_id,
                                 JsonObject *joined)
{
  const char *prd_id = prd_hub_room_get_prd_id (room);
  g_autoptr (GPtrArray) mine = g_ptr_array_new ();
  JsonArray *array = json_array_new ();
  GHashTableIter iter;
  Conflict *conflict;

  g_hash_table_iter_init (&iter, self->conflicts);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &conflict))
    if (g_strcmp0 (conflict->prd_id, prd_id) == 0 && party_of (conflict, user_id) >= 0)
      g_ptr_array_add (mine, conflict);
  g_ptr_array_sort (mine, compare_created);
  for (guint i = 0; i < mine->len; i++)
    {
      conflict = g_ptr_array_index (mine, i);
      json_array_add_object_element (array,
                                     conflict_view (self, conflict, party_of (conflict, user_id)));
    }
  json_object_set_array_member (joined, "conflicts", array);
}

/* ---- resolve-conflict ------------------------------------------------------ */

typedef enum
{
  RESOLVE_YOURS,
  RESOLVE_THEIRS,
  RESOLVE_MERGE,
} Resolution;

static const char *const resolution_names[] = { "yours", "theirs", "merge" };

typedef struct
{
  PrdHubConflicts *self; /* (owned) */
  PrdHubRoom *room;      /* (owned): held */
  PrdSioSocket *socket;  /* (owned) */
  gint64 ack_id;
  char *prd_id;
  char *conflict_id;
  Resolution resolution;
  char *merged;
  char *user_id;
  char *user_name;
  gboolean marked;         /* this request set the conflict's `resolving` */
  gboolean already_undone; /* the edit to undo had been undone before */
  GPtrArray *undone_in;    /* (owned) (element-type PrdConflictRecord): other
                            * conflicts over the edit this one undid */
} Resolve;

static void
resolve_free (Resolve *resolve)
{
  Conflict *conflict = g_hash_table_lookup (resolve->self->conflicts, resolve->conflict_id);

  if (conflict != NULL && resolve->marked)
    conflict->resolving = FALSE;
  g_clear_pointer (&resolve->room, prd_hub_room_release);
  g_object_unref (resolve->self);
  g_object_unref (resolve->socket);
  g_free (resolve->prd_id);
  g_free (resolve->conflict_id);
  g_free (resolve->merged);
  g_free (resolve->user_id);
  g_free (resolve->user_name);
  g_clear_pointer (&resolve->undone_in, g_ptr_array_unref);
  g_free (resolve);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Resolve, resolve_free)

static void
on_closed (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (Resolve) resolve = user_data;
  PrdHubConflicts *self = resolve->self;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) payload = NULL;
  g_autoptr (JsonNode) ack = NULL;
  JsonObject *object, *by;

  if (!prd_conflict_store_resolve_finish (PRD_CONFLICT_STORE (source), result, &error))
    {
      prd_hub_reply_error (resolve->socket, resolve->ack_id, "resolve-conflict", resolve->prd_id,
                           error);
      return;
    }
  g_hash_table_remove (self->conflicts, resolve->conflict_id);

  payload = json_node_new (JSON_NODE_OBJECT);
  object = json_object_new ();
  json_node_take_object (payload, object);
  json_object_set_string_member (object, "prdId", resolve->prd_id);
  json_object_set_string_member (object, "conflictId", resolve->conflict_id);
  json_object_set_string_member (object, "resolution", resolution_names[resolve->resolution]);
  json_object_set_boolean_member (object, "alreadyUndone", resolve->already_undone);
  by = json_object_new ();
  json_object_set_string_member (by, "id", resolve->user_id);
  json_object_set_string_member (by, "name", resolve->user_name);
  json_object_set_object_member (object, "resolvedBy", by);
  prd_hub_room_emit (resolve->room, "conflict-resolved", payload);

  if (resolve->ack_id >= 0)
    {
      ack = json_node_new (JSON_NODE_OBJECT);
      object = json_object_new ();
      json_node_take_object (ack, object);
      json_object_set_boolean_member (object, "ok", TRUE);
      json_object_set_string_member (object, "conflictId", resolve->conflict_id);
      json_object_set_boolean_member (object, "alreadyUndone", resolve->already_undone);
      prd_sio_socket_ack_one (resolve->socket, resolve->ack_id, ack);
    }
}

static int
compare_spans (gconstpointer a, gconstpointer b)
{
  guint32 pa = ((const PrdCrdtSpan *) a)->position, pb = ((const PrdCrdtSpan *) b)->position;

  return pa < pb ? -1 : pa > pb;
}

/* Adds to @spans where @party's inserted characters that are still there
 * are: not what others typed among them since, which stays. */
static void
add_inserted_spans (const Party *party, PrdCrdtDoc *doc, GArray *spans)
{
  g_autoptr (GArray) own = NULL;

  if (party->type != PRD_CRDT_OP_INSERT || !party->start.has_id ||
      party->end.id.site != party->start.id.site || party->end.id.clock < party->start.id.clock)
    return;
  own = prd_crdt_doc_get_visible_spans (doc, party->start.id.site, party->start.id.clock,
                                        party->end.id.clock - party->start.id.clock + 1);
  g_array_append_vals (spans, own->data, own->len);
}

/* Adds @party's operation to @ops when it is a delete whose characters
 * must not come back: one that stands, or one undone before its conflict
 * was raised (its undo put them back already, as new characters). */
static void
add_standing_delete (GPtrArray *ops, const Party *party, PrdCrdtDoc *doc)
{
  PrdCrdtOp *op;

  if (party->type != PRD_CRDT_OP_DELETE || party->seq == 0 ||
      (party->undone && !party->undone_before))
    return;
  op = prd_crdt_doc_get_op (doc, party->site, party->seq);
  if (op != NULL)
    g_ptr_array_add (ops, op);
}

/* What undoing @undone, a delete, puts back: the characters it deleted
 * that no delete that stands deleted too, each where it was. The deletes
 * known to overlap it are the other parties of the open conflicts over
 * it, this one's included; one undone while its conflict with @undone was
 * open no longer counts (its undo left the shared characters deleted, as
 * @undone stood), one undone before that conflict was raised still does
 * (its undo put them back already). */
static GPtrArray *
deleted_pieces (PrdHubConflicts *self,
                const Conflict *conflict,
                const Party *undone,
                guint32 start,
                PrdCrdtDoc *doc)
{
  g_autoptr (PrdCrdtOp) deleted = NULL;
  g_autoptr (GPtrArray) also = g_ptr_array_new_with_free_func ((GDestroyNotify) prd_crdt_op_free);
  GPtrArray *pieces = NULL;
  PrdConflictRestore *whole;
  GHashTableIter iter;
  Conflict *open;

  g_hash_table_iter_init (&iter, self->conflicts);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &open))
    if (g_str_equal (open->prd_id, conflict->prd_id))
      for (guint i = 0; i < 2; i++)
        if (&open->parties[i] == undone || same_op (&open->parties[i], undone))
          add_standing_delete (also, &open->parties[1 - i], doc);
  if (undone->seq > 0)
    deleted = prd_crdt_doc_get_op (doc, undone->site, undone->seq);
  if (deleted != NULL && deleted->type == PRD_CRDT_OP_DELETE)
    pieces = prd_conflict_restore_pieces (doc, deleted, undone->text,
                                          (const PrdCrdtOp *const *) also->pdata, also->len);
  if (pieces != NULL)
    return pieces;
  /* A conflict stored before its operations were: the whole text, where
   * its first character was. */
  pieces = g_ptr_array_new_with_free_func ((GDestroyNotify) prd_conflict_restore_free);
  if (*undone->text != '\0')
    {
      whole = g_new0 (PrdConflictRestore, 1);
      whole->position = start;
      whole->text = g_strdup (undone->text);
      g_ptr_array_add (pieces, whole);
    }
  return pieces;
}

/* @undone's operation is undone now: every other open conflict over it
 * (and the window, for conflicts raised later) remembers that, so that no
 * resolution undoes it twice. The records to rewrite go to
 * @resolve->undone_in, stored with the conflict's removal. */
static void
mark_undone (Resolve *resolve, const Conflict *conflict, const Party *undone)
{
  PrdHubConflicts *self = resolve->self;
  PrdConflictWindow *window = g_hash_table_lookup (self->windows, conflict->prd_id);
  GHashTableIter iter;
  Conflict *open;

  if (undone->seq == 0)
    return;
  if (window != NULL)
    prd_conflict_window_mark_undone (window, undone->site, undone->seq);
  resolve->undone_in = g_ptr_array_new_with_free_func ((GDestroyNotify) prd_conflict_record_free);
  g_hash_table_iter_init (&iter, self->conflicts);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &open))
    {
      PrdConflictRecord *record;
      gboolean changed = FALSE;

      if (open == conflict || !g_str_equal (open->prd_id, conflict->prd_id))
        continue;
      for (guint i = 0; i < 2; i++)
        if (!open->parties[i].undone && same_op (&open->parties[i], undone))
          open->parties[i].undone = changed = TRUE;
      if (!changed)
        continue;
      record = g_new0 (PrdConflictRecord, 1);
      record->id = g_strdup (open->id);
      record->prd_id = g_strdup (open->prd_id);
      record->position = open->position;
      record->created_at = open->created_at;
      record->parties = parties_to_string (open);
      g_ptr_array_add (resolve->undone_in, record);
    }
}

/* Makes the document say what @resolve asks, as operations of @site. */
static gboolean
apply_resolution (Resolve *resolve, Conflict *conflict, guint32 site, GError **error)
{
  PrdCrdtDoc *doc = prd_document_get_crdt (prd_hub_room_get_document (resolve->room));
  int mine = party_of (conflict, resolve->user_id);
  g_autoptr (GArray) spans = g_array_new (FALSE, FALSE, sizeof (PrdCrdtSpan));
  g_autoptr (GPtrArray) restored = NULL;
  const Party *undone = NULL;
  guint32 start = G_MAXUINT32, end = 0;

#define EDIT(insert, position, text, length)                                    \
  prd_hub_room_write (resolve->room, site, PRD_HUB_SITE_USER, resolve->user_id, \
                      resolve->user_name, insert, position, text, length, error)

  if (resolve->resolution == RESOLVE_MERGE)
    {
      for (guint i = 0; i < 2; i++)
        {
          guint32 s, e;

          if (party_range (&conflict->parties[i], doc, &s, &e))
            {
              start = MIN (start, s);
              end = MAX (end, e);
              add_inserted_spans (&conflict->parties[i], doc, spans);
            }
        }
      if (start == G_MAXUINT32)
        start = MIN (conflict->position, prd_crdt_doc_get_length (doc));
    }
  else
    {
      undone = &conflict->parties[resolve->resolution == RESOLVE_YOURS ? 1 - mine : mine];
      if (undone->undone)
        {
          resolve->already_undone = TRUE;
          return TRUE;
        }
      if (!party_range (undone, doc, &start, &end))
        return TRUE;
      add_inserted_spans (undone, doc, spans);
      if (undone->type == PRD_CRDT_OP_DELETE)
        restored = deleted_pieces (resolve->self, conflict, undone, start, doc);
    }

  /* Applied whole or not at all: a resolution that would not fit is
   * refused before its deletions are written. */
  {
    guint32 deleted = 0, inserted = 0, units;

    for (guint i = 0; i < spans->len; i++)
      deleted += g_array_index (spans, PrdCrdtSpan, i).length;
    if (resolve->resolution == RESOLVE_MERGE && prd_utf16_length (resolve->merged, &units))
      inserted = units;
    for (guint i = 0; restored != NULL && i < restored->len; i++)
      {
        const PrdConflictRestore *piece = g_ptr_array_index (restored, i);

        if (prd_utf16_length (piece->text, &units))
          inserted += units;
      }
    if (!prd_document_check_growth (prd_hub_room_get_document (resolve->room), deleted, inserted,
                                    error))
      return FALSE;
  }

  /* From the last, so that the positions before hold (all are at or after
   * @start). */
  g_array_sort (spans, compare_spans);
  for (guint i = spans->len; i > 0; i--)
    {
      const PrdCrdtSpan *span = &g_array_index (spans, PrdCrdtSpan, i - 1);

      if (!EDIT (FALSE, span->position, NULL, span->length))
        return FALSE;
    }

  if (resolve->resolution == RESOLVE_MERGE)
    return *resolve->merged == '\0' || EDIT (TRUE, start, resolve->merged, 0);
  /* From the last too: the pieces' positions never decrease. */
  for (guint i = restored != NULL ? restored->len : 0; i > 0; i--)
    {
      const PrdConflictRestore *piece = g_ptr_array_index (restored, i - 1);

      if (!EDIT (TRUE, piece->position, piece->text, 0))
        return FALSE;
    }
  mark_undone (resolve, conflict, undone);
  return TRUE;
#undef EDIT
}

static void
on_site (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (Resolve) resolve = user_data;
  PrdHubConflicts *self = resolve->self;
  g_autoptr (PrdStoreSite) site = NULL;
  g_autoptr (GError) error = NULL;
  const char *conflict_id;
  GPtrArray *undone_in;
  Conflict *conflict;

  site = prd_store_acquire_site_finish (PRD_STORE (source), result, &error);
  conflict = g_hash_table_lookup (self->conflicts, resolve->conflict_id);
  if (site == NULL || conflict == NULL || !prd_hub_room_is_open (resolve->room))
    {
      if (error == NULL)
        error = g_error_new_literal (PRD_ERROR, PRD_ERROR_STORAGE, "The PRD was closed");
      prd_hub_reply_error (resolve->socket, resolve->ack_id, "resolve-conflict", resolve->prd_id,
                           error);
      return;
    }
  prd_document_set_site_owner (prd_hub_room_get_document (resolve->room), (guint32) site->site,
                               PRD_HUB_SITE_USER);
  if (!apply_resolution (resolve, conflict, (guint32) site->site, &error))
    {
      prd_hub_reply_error (resolve->socket, resolve->ack_id, "resolve-conflict", resolve->prd_id,
                           error);
      return;
    }
  conflict_id = resolve->conflict_id;
  undone_in = resolve->undone_in;
  prd_conflict_store_resolve_async (self->conflict_store, conflict_id, undone_in, NULL, on_closed,
                                    g_steal_pointer (&resolve));
}

static void
on_resolve_conflict (PrdSioSocket *socket,
                     const char *event,
                     JsonArray *args,
                     GPtrArray *attachments,
                     gint64 ack_id,
                     gpointer user_data)
{
  PrdHubConflicts *self = user_data;
  const PrdIdentity *identity = prd_hub_socket_get_identity (socket);
  g_autoptr (GError) error = NULL;
  g_autoptr (Resolve) resolve = NULL;
  g_autoptr (GArray) busy = NULL;
  const char *prd_id, *conflict_id, *resolution, *merged = NULL;
  JsonObject *payload;
  JsonNode *member;
  Conflict *conflict;
  PrdHubRoom *room;
  int kind = -1;

  payload = prd_hub_payload_get_prd (socket, event, args, ack_id, &prd_id);
  if (payload == NULL)
    return;
#define STRING_MEMBER(name)                                                                       \
  ((member = json_object_get_member (payload, name)) != NULL && JSON_NODE_HOLDS_VALUE (member) && \
           json_node_get_value_type (member) == G_TYPE_STRING                                     \
       ? json_node_get_string (member)                                                            \
       : NULL)
  conflict_id = STRING_MEMBER ("conflictId");
  if (conflict_id == NULL)
    {
      prd_hub_reply_error_literal (socket, ack_id, "resolve-conflict", prd_id,
                                   PRD_ERROR_INVALID_PAYLOAD, "conflictId must be a string");
      return;
    }
  resolution = STRING_MEMBER ("resolution");
  for (guint i = 0; resolution != NULL && i < G_N_ELEMENTS (resolution_names); i++)
    if (g_str_equal (resolution, resolution_names[i]))
      kind = (int) i;
  if (kind < 0)
    {
      prd_hub_reply_error_literal (socket, ack_id, "resolve-conflict", prd_id,
                                   PRD_ERROR_INVALID_PAYLOAD,
                                   "resolution must be 'yours', 'theirs' or 'merge'");
      return;
    }
  if (kind == RESOLVE_MERGE)
    {
      guint32 units = 0;

      merged = STRING_MEMBER ("mergedContent");
      if (merged == NULL)
        {
          prd_hub_reply_error_literal (socket, ack_id, "resolve-conflict", prd_id,
                                       PRD_ERROR_INVALID_PAYLOAD,
                                       "mergedContent must be a string for a merge");
          return;
        }
      if (!prd_utf16_length (merged, &units) ||
          units > prd_hub_config_get_collab (self->config)->max_operation_size)
        {
          g_autofree char *message =
              g_strdup_printf ("mergedContent is longer than %u UTF-16 code units",
                               prd_hub_config_get_collab (self->config)->max_operation_size);

          prd_hub_reply_error_literal (socket, ack_id, "resolve-conflict", prd_id,
                                       PRD_ERROR_PAYLOAD_TOO_LARGE, message);
          return;
        }
    }
#undef STRING_MEMBER

  room = prd_hub_room_registry_get_joined (self->rooms, socket, prd_id, &error);
  if (room != NULL &&
      !prd_room_member_can_edit (prd_hub_room_get_members (room), prd_sio_socket_get_id (socket)))
    {
      prd_hub_reply_error_literal (socket, ack_id, event, prd_id, PRD_ERROR_FORBIDDEN,
                                   "Only editors who joined in edit mode may resolve conflicts");
      return;
    }
  if (room == NULL || !prd_hub_room_check_writable (room, &error) ||
      !prd_hub_room_hold (room, &error))
    {
      prd_hub_reply_error (socket, ack_id, event, prd_id, error);
      return;
    }
  resolve = g_new0 (Resolve, 1);
  resolve->self = g_object_ref (self);
  resolve->room = room;
  resolve->socket = g_object_ref (socket);
  resolve->ack_id = ack_id;
  resolve->prd_id = g_strdup (prd_id);
  resolve->conflict_id = g_strdup (conflict_id);
  resolve->resolution = (Resolution) kind;
  resolve->merged = g_strdup (merged);
  resolve->user_id = g_strdup (identity->user_id);
  resolve->user_name = g_strdup (identity->name);

  conflict = g_hash_table_lookup (self->conflicts, conflict_id);
  if (conflict == NULL || g_strcmp0 (conflict->prd_id, prd_id) != 0)
    {
      prd_hub_reply_error_literal (socket, ack_id, "resolve-conflict", prd_id, PRD_ERROR_NOT_FOUND,
                                   "No open conflict with this conflictId in this PRD");
      return;
    }
  if (party_of (conflict, identity->user_id) < 0)
    {
      prd_hub_reply_error_literal (socket, ack_id, "resolve-conflict", prd_id, PRD_ERROR_FORBIDDEN,
                                   "Only the two users of a conflict may resolve it");
      return;
    }
  if (conflict->resolving)
    {
      prd_hub_reply_error_literal (socket, ack_id, "resolve-conflict", prd_id,
                                   PRD_ERROR_INVALID_OPERATION, "The conflict is being resolved");
      return;
    }
  conflict->resolving = resolve->marked = TRUE;
  busy = prd_hub_room_get_busy_sites (room);
  prd_store_acquire_site_async (self->store, prd_id, PRD_HUB_SITE_USER, (const int *) busy->data,
                                busy->len, self->cancellable, on_site, g_steal_pointer (&resolve));
}

/* ---- object ---------------------------------------------------------------- */

static const PrdHubEventEntry events[] = {
  { "resolve-conflict", on_resolve_conflict },
};

static void
prd_hub_conflicts_dispose (GObject *object)
{
  PrdHubConflicts *self = PRD_HUB_CONFLICTS (object);

  g_cancellable_cancel (self->cancellable);
  g_clear_handle_id (&self->sweep_id, g_source_remove);
  if (self->rooms != NULL)
    {
      PrdSioNamespace *nsp = prd_hub_room_registry_get_namespace (self->rooms);

      if (nsp != NULL)
        prd_hub_remove_events (nsp, events, G_N_ELEMENTS (events));
    }
  g_clear_object (&self->rooms);
  g_clear_object (&self->store);
  g_clear_object (&self->conflict_store);
  g_clear_pointer (&self->config, prd_hub_config_unref);
  G_OBJECT_CLASS (prd_hub_conflicts_parent_class)->dispose (object);
}

/* Windows of PRDs nobody edits any more would stay forever: what is older
 * than the window's age can no longer conflict with anything. */
static gboolean
sweep_windows (gpointer user_data)
{
  PrdHubConflicts *self = user_data;
  gint64 now = g_get_monotonic_time ();
  GHashTableIter iter;
  PrdConflictWindow *window;

  g_hash_table_iter_init (&iter, self->windows);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &window))
    if (prd_conflict_window_expire (window, now) == 0)
      g_hash_table_iter_remove (&iter);
  return G_SOURCE_CONTINUE;
}

static void
prd_hub_conflicts_finalize (GObject *object)
{
  PrdHubConflicts *self = PRD_HUB_CONFLICTS (object);

  g_hash_table_unref (self->windows);
  g_hash_table_unref (self->conflicts);
  g_hash_table_unref (self->storing);
  g_object_unref (self->cancellable);
  G_OBJECT_CLASS (prd_hub_conflicts_parent_class)->finalize (object);
}

static void
prd_hub_conflicts_class_init (PrdHubConflictsClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = prd_hub_conflicts_dispose;
  object_class->finalize = prd_hub_conflicts_finalize;
}

static void
prd_hub_conflicts_init (PrdHubConflicts *self)
{
  self->windows = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                         (GDestroyNotify) prd_conflict_window_free);
  self->conflicts =
      g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) conflict_free);
  self->storing = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->cancellable = g_cancellable_new ();
  self->sweep_id =
      g_timeout_add_seconds (PRD_CONFLICT_DEFAULT_WINDOW_AGE / G_USEC_PER_SEC, sweep_windows, self);
}

/* Takes the open conflicts into memory; a damaged one stops the start. */
static gboolean
load_conflicts (PrdHubConflicts *self, GPtrArray *records, GError **error)
{
  for (guint i = 0; i < records->len; i++)
    {
      const PrdConflictRecord *record = g_ptr_array_index (records, i);
      g_autoptr (Conflict) conflict = g_new0 (Conflict, 1);

      conflict->id = g_strdup (record->id);
      conflict->prd_id = g_strdup (record->prd_id);
      conflict->position = record->position;
      conflict->created_at = record->created_at;
      if (conflict->id == NULL || conflict->prd_id == NULL ||
          !parties_from_string (conflict, record->parties))
        {
          g_set_error (error, PRD_ERROR, PRD_ERROR_CORRUPT_DATA, "Conflict %s is damaged",
                       conflict->id != NULL ? conflict->id : "?");
          return FALSE;
        }
      g_hash_table_insert (self->conflicts, conflict->id, conflict);
      g_steal_pointer (&conflict);
    }
  return TRUE;
}

static void
on_listed (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  PrdHubConflicts *self = g_task_get_task_data (task);
  g_autoptr (GPtrArray) records = NULL;
  GError *error = NULL;

  records = prd_conflict_store_list_finish (PRD_CONFLICT_STORE (source), result, &error);
  if (records == NULL || !load_conflicts (self, records, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  prd_hub_add_events (prd_hub_room_registry_get_namespace (self->rooms), events,
                      G_N_ELEMENTS (events), self);
  g_task_return_pointer (task, g_object_ref (self), g_object_unref);
}

/**
 * prd_hub_conflicts_new_async:
 * @rooms: the rooms of /prds, whose edits are compared
 * @store: the PRDs (for the hub's site that writes resolutions)
 * @conflicts: where open conflicts are kept
 * @config: the hub's configuration
 * @cancellable: (nullable): stops the loading
 * @callback: called once the open conflicts are loaded
 * @user_data: data for @callback
 *
 * Reads the open conflicts, then installs conflict review on the
 * namespace of @rooms.
 */
void
prd_hub_conflicts_new_async (PrdHubRoomRegistry *rooms,
                             PrdStore *store,
                             PrdConflictStore *conflicts,
                             PrdHubConfig *config,
                             GCancellable *cancellable,
                             GAsyncReadyCallback callback,
                             gpointer user_data)
{
  PrdHubConflicts *self;
  g_autoptr (GTask) task = NULL;

  g_return_if_fail (PRD_IS_HUB_ROOM_REGISTRY (rooms));
  g_return_if_fail (PRD_IS_STORE (store));
  g_return_if_fail (PRD_IS_CONFLICT_STORE (conflicts));
  g_return_if_fail (config != NULL);

  self = g_object_new (PRD_TYPE_HUB_CONFLICTS, NULL);
  self->rooms = g_object_ref (rooms);
  self->store = g_object_ref (store);
  self->conflict_store = g_object_ref (conflicts);
  self->config = prd_hub_config_ref (config);
  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, prd_hub_conflicts_new_async);
  g_task_set_task_data (task, self, g_object_unref);
  prd_conflict_store_list_async (conflicts, cancellable, on_listed, g_steal_pointer (&task));
}

/**
 * prd_hub_conflicts_new_finish:
 *
 * Returns: (transfer full) (nullable): the conflict review, or %NULL with
 *   @error set when the open conflicts cannot be read
 */
PrdHubConflicts *
prd_hub_conflicts_new_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

guint
prd_hub_conflicts_get_n_open (PrdHubConflicts *self)
{
  g_return_val_if_fail (PRD_IS_HUB_CONFLICTS (self), 0);
  return g_hash_table_size (self->conflicts);
}
