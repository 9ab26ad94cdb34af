/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Craft.io initiatives (seed §8.4) on /prds:
 *
 *   craft-link {prdId, initiativeId}        (editors, admins) → the room
 *       hears `craft-initiative-linked` {prdId, initiative, linkType:
 *       'manual'}; ack {ok, prdId, initiativeId, initiative}
 *   craft-unlink {prdId, initiativeId}      (editors, admins) → the room
 *       hears `craft-initiative-unlinked` {prdId, initiativeId}
 *   craft-check-alignment {prdId}           (any member of the
 *       organization) → `craft-alignment-check` {prdId, alignment: {score,
 *       status, suggestions}, method} to the asking socket, and in the ack
 *
 * A new or renamed PRD's title is matched against the workspace's initiatives
 * (prd_craftio_match_score()): the best one at or above the automatic
 * score is linked (`linkType: 'automatic'`) while the PRD has fewer than
 * PRD_HUB_CRAFTIO_MAX_LINKS (else it is offered), others at or above the
 * suggestion score are offered (`'suggested'`, not linked); each goes to
 * the PRD's room and, as a `craft_initiative_linked` notification, to the
 * PRD's owner.
 *
 * The titles come from prd_craftio_list_titles_async(): one listing per
 * organization at a time, shared by the matches waiting for it and reused
 * for `pollInterval` seconds; the automatic link reads its initiative by id
 * (the titles have no objectives).
 *
 * Every organization with Craft.io configured is polled every
 * `pollInterval` seconds for the initiatives updated since the last poll
 * (`updated_from`, by Craft.io's clock, so that a hub clock ahead of
 * Craft.io's misses nothing: the `Date` of the last poll's listing less its
 * round trip, but never further forward than the monotonic time elapsed
 * since the cursor before it, which a Date ahead or missing gives instead:
 * poll_cursor()); a linked initiative
 * whose status, title or objectives changed gives
 * `craft-initiative-updated` {prdId, initiative: {id, changes},
 * affectedPRDs} in each linked PRD's room, and one
 * `craft_initiative_updated` activity. A listing that stops at
 * PRD_CRAFTIO_MAX_PAGES is completed by reading the linked initiatives it
 * left out by id. A linked initiative whose read fails (but for 404: gone)
 * is kept per organization, in memory, and read by id at every later poll
 * until it reads; the next poll starts from this one whenever its listing
 * worked (a restart polls the whole workspace again, so forgetting them
 * misses nothing). A poll sets the integration's status once, when it
 * ends: connected when it read all it asked for, else error with its first
 * failure (prd_craftio_report_poll()). The poll updates the links it read
 * and never adds one (a craft-unlink meanwhile stays).
 *
 * Links live in the #PrdIntegrationStore, a new one added by
 * prd_integration_store_add_link_async(), which counts the PRD's links in
 * the same write (links asked for together never pass the limit): one
 * record per (initiative, PRD), remote key `<initiativeId>@<prdId>`, remote id the initiative's id,
 * title and status as last heard, the objectives as a JSON array in the
 * digest, the position 0 for a manual link and 1 for an automatic one.
 */
#define G_LOG_DOMAIN "prd-hub-craftio"

#include "config.h"

#include <string.h>

#include "prd-ai-provider.h"
#include "prd-craftio.h"
#include "prd-error.h"
#include "prd-hub-announce.h"
#include "prd-hub-context.h"
#include "prd-hub-room.h"
#include "prd-json.h"
#include "prd-log.h"

#include "prd-hub-craftio.h"

/* The most initiatives a new PRD is offered. */
#define MAX_SUGGESTED 5

/* How far a listing's Date may stray from the hub's reckoning of
 * Craft.io's clock before it is logged; a Date further behind than this is
 * taken as the cursor of its poll only, unless the last poll's was too. */
#define SKEW_TOLERANCE (60 * G_USEC_PER_SEC)

typedef struct
{
  gint64 last_start; /* µs, by Craft.io's clock: the next poll's cursor; 0: never polled */
  gint64 offset;     /* µs: Craft.io's clock less the monotonic clock, at the most */
  gboolean behind;   /* the last listing's Date was SKEW_TOLERANCE behind the reckoning */
  gboolean skewed;   /* a skew was logged, and no Date came within SKEW_TOLERANCE since */
  gint64 next_due;   /* µs, monotonic */
  gboolean running;
  GHashTable *unread; /* (owned) (nullable): linked ids whose read failed, read by id next */
} PollState;

static void
poll_state_free (PollState *state)
{
  g_clear_pointer (&state->unread, g_hash_table_unref);
  g_free (state);
}

struct _PrdHubCraftio
{
  GObject parent_instance;

  PrdHubRoomRegistry *rooms;        /* (owned) */
  PrdStore *store;                  /* (owned) */
  PrdIntegrationRegistry *registry; /* (owned) */
  PrdIntegrationStore *links;       /* (owned) */
  PrdNotificationStore *feed;       /* (owned) */
  GHashTable *polls;                /* org → PollState */
  GHashTable *retirements;          /* org → how often its settings were retired */
  PrdAiProvider *ai;                /* (owned) (nullable) */
  GCancellable *cancellable;
  guint tick_id;
};

enum
{
  SIGNAL_NOTIFICATIONS_RECORDED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (PrdHubCraftio, prd_hub_craftio, G_TYPE_OBJECT)

static void
prd_hub_craftio_dispose (GObject *object)
{
  PrdHubCraftio *self = PRD_HUB_CRAFTIO (object);

  g_cancellable_cancel (self->cancellable);
  g_clear_handle_id (&self->tick_id, g_source_remove);
  g_clear_object (&self->rooms);
  g_clear_object (&self->store);
  if (self->registry != NULL)
    g_signal_handlers_disconnect_by_data (self->registry, self);
  g_clear_object (&self->registry);
  g_clear_object (&self->links);
  g_clear_object (&self->feed);
  g_clear_pointer (&self->polls, g_hash_table_unref);
  g_clear_object (&self->ai);
  g_clear_object (&self->cancellable);
  g_clear_pointer (&self->retirements, g_hash_table_unref);
  G_OBJECT_CLASS (prd_hub_craftio_parent_class)->dispose (object);
}

static void
prd_hub_craftio_class_init (PrdHubCraftioClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = prd_hub_craftio_dispose;

  /**
   * PrdHubCraftio::notifications-recorded:
   * @announce: (type PrdHubAnnounce): what Craft.io announced, stored
   */
  signals[SIGNAL_NOTIFICATIONS_RECORDED] =
      g_signal_new ("notifications-recorded", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                    NULL, NULL, G_TYPE_NONE, 1, PRD_TYPE_HUB_ANNOUNCE);
}

static void
prd_hub_craftio_init (PrdHubCraftio *self)
{
  self->polls =
      g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) poll_state_free);
  self->cancellable = g_cancellable_new ();
  self->retirements = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
}

/* How often @org's Craft.io settings were removed or replaced so far: work
 * begun before the count changed writes nothing (no link comes back after
 * a removal). */
static guint
retirements_of (PrdHubCraftio *self, const char *org)
{
  return GPOINTER_TO_UINT (g_hash_table_lookup (self->retirements, org));
}

static GError *
retired_error (void)
{
  return g_error_new_literal (PRD_ERROR, PRD_ERROR_CANCELLED,
                              "Craft.io's settings were removed or changed during the request");
}

/* ---- links ↔ initiatives ---- */

/* The objectives as the link keeps them (JSON): all of them (50 of at most
 * 1024 bytes each fit), or as many as fit when escaping makes them longer. */
static char *
objectives_digest (const PrdCraftInitiative *initiative)
{
  guint n = g_strv_length (initiative->objectives);

  for (;; n--)
    {
      g_autoptr (JsonNode) node = json_node_new (JSON_NODE_ARRAY);
      JsonArray *array = json_array_new ();
      g_autofree char *text = NULL;

      for (guint i = 0; i < n; i++)
        json_array_add_string_element (array, initiative->objectives[i]);
      json_node_take_array (node, array);
      text = json_to_string (node, FALSE);
      if (strlen (text) <= PRD_INTEGRATION_STORE_MAX_DIGEST || n == 0)
        return g_steal_pointer (&text);
    }
}

static PrdIntegrationLinkRecord *
link_new (const char *org, const char *prd_id, const PrdCraftInitiative *initiative, int position)
{
  PrdIntegrationLinkRecord *link = g_new0 (PrdIntegrationLinkRecord, 1);

  link->org = g_strdup (org);
  link->service = g_strdup (PRD_CRAFTIO_SERVICE);
  link->prd_id = g_strdup (prd_id);
  link->remote_key = g_strdup_printf ("%s@%s", initiative->id, prd_id);
  link->remote_id = g_strdup (initiative->id);
  link->url = g_strdup (initiative->url);
  link->title = g_strdup (initiative->title);
  link->digest = objectives_digest (initiative);
  link->position = position;
  link->status = g_strdup (initiative->status);
  link->updated_at = g_get_real_time ();
  return link;
}

/* The initiative as the link last heard of it. */
static PrdCraftInitiative *
initiative_from_link (const PrdIntegrationLinkRecord *link)
{
  PrdCraftInitiative *initiative = g_new0 (PrdCraftInitiative, 1);
  g_autoptr (JsonNode) node = NULL;
  GPtrArray *objectives = g_ptr_array_new ();

  initiative->id = g_strdup (link->remote_id);
  initiative->title = g_strdup (link->title);
  initiative->status = g_strdup (link->status);
  initiative->url = g_strdup (link->url);
  if (link->digest != NULL)
    node = prd_json_parse (link->digest, -1, 1024 * 1024, NULL);
  if (node != NULL && JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *array = json_node_get_array (node);

      for (guint i = 0; i < json_array_get_length (array); i++)
        {
          JsonNode *element = json_array_get_element (array, i);

          if (JSON_NODE_HOLDS_VALUE (element) &&
              json_node_get_value_type (element) == G_TYPE_STRING)
            g_ptr_array_add (objectives, g_strdup (json_node_get_string (element)));
        }
    }
  g_ptr_array_add (objectives, NULL);
  initiative->objectives = (GStrv) g_ptr_array_free (objectives, FALSE);
  initiative->keywords = g_new0 (char *, 1);
  return initiative;
}

static JsonNode *
linked_payload (const char *prd_id, const PrdCraftInitiative *initiative, const char *link_type)
{
  JsonObject *payload = json_object_new ();

  json_object_set_string_member (payload, "prdId", prd_id);
  json_object_set_object_member (payload, "initiative", prd_craft_initiative_to_json (initiative));
  json_object_set_string_member (payload, "linkType", link_type);
  return prd_hub_object_node (payload);
}

/* ---- announcements ---- */

static void
record (PrdHubCraftio *self, PrdHubAnnounce *announce)
{
  prd_hub_announce_record (announce, self->feed, self, signals[SIGNAL_NOTIFICATIONS_RECORDED],
                           "Craft.io", self->cancellable);
}

/* ---- requests from sockets ---- */

typedef enum
{
  REQUEST_LINK,
  REQUEST_UNLINK,
  REQUEST_ALIGNMENT,
} RequestKind;

typedef struct
{
  PrdHubCraftio *self;  /* (owned) */
  PrdSioSocket *socket; /* (owned) */
  gint64 ack_id;
  RequestKind kind;
  const char *event;
  char *prd_id;
  char *org;
  char *initiative_id; /* (nullable) */
  char *prd_title;
  PrdCraftio *craft;              /* (owned) (nullable) */
  PrdCraftInitiative *initiative; /* (owned) (nullable) */
  GPtrArray *links;               /* (owned) (nullable): the PRD's */
  guint retirements;              /* retirements_of() the org when asked */
} Request;

static void
request_free (Request *request)
{
  g_object_unref (request->self);
  g_object_unref (request->socket);
  g_free (request->prd_id);
  g_free (request->org);
  g_free (request->initiative_id);
  g_free (request->prd_title);
  g_clear_object (&request->craft);
  g_clear_pointer (&request->initiative, prd_craft_initiative_free);
  g_clear_pointer (&request->links, g_ptr_array_unref);
  g_free (request);
}

/* Takes @error. A call cancelled because the settings were retired is
 * answered CANCELLED; one cancelled because the hub stops, not at all. */
static void
request_fail (Request *request, GError *error)
{
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) &&
      request->self->cancellable != NULL &&
      !g_cancellable_is_cancelled (request->self->cancellable))
    {
      g_error_free (error);
      error = retired_error ();
    }
  if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    prd_hub_reply_error (request->socket, request->ack_id, request->event, request->prd_id, error);
  g_error_free (error);
  request_free (request);
}

static GError *
too_many_links (void)
{
  return g_error_new (PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD, "A PRD links at most %d initiatives",
                      PRD_HUB_CRAFTIO_MAX_LINKS);
}

/* The store's refusals of an add in the protocol's words. Takes @error. */
static GError *
link_error (Request *request, GError *error)
{
  if (g_error_matches (error, PRD_ERROR, PRD_ERROR_LIMIT_REACHED))
    {
      g_error_free (error);
      return too_many_links ();
    }
  if (g_error_matches (error, PRD_ERROR, PRD_ERROR_ALREADY_EXISTS))
    {
      g_error_free (error);
      return g_error_new (PRD_ERROR, PRD_ERROR_ALREADY_EXISTS,
                          "Initiative %s is already linked to %s", request->initiative_id,
                          request->prd_id);
    }
  return error;
}

static void
on_linked (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Request *request = user_data;
  g_autoptr (JsonNode) payload = NULL;
  JsonObject *ack;
  GError *error = NULL;

  if (!prd_integration_store_add_link_finish (PRD_INTEGRATION_STORE (source), result, &error))
    {
      request_fail (request, link_error (request, error));
      return;
    }
  g_info ("craftio (%s): %s linked to initiative %s", request->org, request->prd_id,
          request->initiative->id);
  payload = linked_payload (request->prd_id, request->initiative, "manual");
  prd_hub_room_registry_emit (request->self->rooms, request->prd_id, "craft-initiative-linked",
                              payload);
  ack = json_object_new ();
  json_object_set_string_member (ack, "prdId", request->prd_id);
  json_object_set_string_member (ack, "initiativeId", request->initiative->id);
  json_object_set_object_member (ack, "initiative",
                                 prd_craft_initiative_to_json (request->initiative));
  prd_hub_reply_ok (request->socket, request->ack_id, ack);
  request_free (request);
}

static void
on_item (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Request *request = user_data;
  g_autoptr (PrdIntegrationLinkRecord) link = NULL;
  GError *error = NULL;

  request->initiative = prd_craftio_get_item_finish (PRD_CRAFTIO (source), result, &error);
  if (request->initiative == NULL)
    {
      request_fail (request, error);
      return;
    }
  if (retirements_of (request->self, request->org) != request->retirements)
    {
      request_fail (request, retired_error ());
      return;
    }
  /* The store counts again as it adds: links asked for together were all
   * under the limit when on_links() counted. */
  link = link_new (request->org, request->prd_id, request->initiative, 0);
  prd_integration_store_add_link_async (request->self->links, link, PRD_HUB_CRAFTIO_MAX_LINKS,
                                        request->self->cancellable, on_linked, request);
}

static GError *
not_linked (Request *request)
{
  return g_error_new (PRD_ERROR, PRD_ERROR_NOT_FOUND, "Initiative %s is not linked to %s",
                      request->initiative_id, request->prd_id);
}

static void
on_unlinked (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Request *request = user_data;
  g_autoptr (JsonNode) node = NULL;
  JsonObject *payload;
  JsonObject *ack;
  GError *error = NULL;
  gboolean deleted = FALSE;

  if (!prd_integration_store_delete_link_finish (PRD_INTEGRATION_STORE (source), result, &deleted,
                                                 &error))
    {
      request_fail (request, error);
      return;
    }
  /* Another craft-unlink of the link, under way at the same time, forgot
   * it first: that one answers ok and tells the room. */
  if (!deleted)
    {
      request_fail (request, not_linked (request));
      return;
    }
  payload = json_object_new ();
  node = prd_hub_object_node (payload);
  json_object_set_string_member (payload, "prdId", request->prd_id);
  json_object_set_string_member (payload, "initiativeId", request->initiative_id);
  prd_hub_room_registry_emit (request->self->rooms, request->prd_id, "craft-initiative-unlinked",
                              node);
  ack = json_object_new ();
  json_object_set_string_member (ack, "prdId", request->prd_id);
  json_object_set_string_member (ack, "initiativeId", request->initiative_id);
  prd_hub_reply_ok (request->socket, request->ack_id, ack);
  request_free (request);
}

static void
reply_alignment (Request *request, JsonObject *alignment, const char *method)
{
  g_autoptr (JsonNode) node = NULL;
  JsonObject *payload, *ack;

  payload = json_object_new ();
  node = prd_hub_object_node (payload);
  json_object_set_string_member (payload, "prdId", request->prd_id);
  json_object_set_object_member (payload, "alignment", json_object_ref (alignment));
  json_object_set_string_member (payload, "method", method);
  prd_sio_socket_emit_one (request->socket, "craft-alignment-check", node);
  ack = json_object_new ();
  json_object_set_string_member (ack, "prdId", request->prd_id);
  json_object_set_object_member (ack, "alignment", json_object_ref (alignment));
  json_object_set_string_member (ack, "method", method);
  prd_hub_reply_ok (request->socket, request->ack_id, ack);
}

/* The model's answer as the seed's alignment: one JSON object (fences and
 * text around it are ignored) with `score` 0 to 1, a `status` of the
 * three, and `suggestions` (strings; empty ones and others left out, at
 * most PRD_CRAFTIO_MAX_SUGGESTIONS, each cut at 500 characters). */
static JsonObject *
alignment_from_ai (const char *text, GError **error)
{
  static const char *const statuses[] = { "aligned", "misaligned", "review_needed", NULL };
  const char *start = text != NULL ? strchr (text, '{') : NULL;
  const char *end = text != NULL ? strrchr (text, '}') : NULL;
  g_autoptr (JsonNode) node = NULL;
  JsonObject *object, *alignment;
  JsonNode *score, *status, *suggestions;
  JsonArray *list;
  double value;

  if (start != NULL && end != NULL && end > start)
    node = prd_json_parse (start, end - start + 1, 65536, NULL);
  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_PROVIDER_PROTOCOL_ERROR,
                           "The AI provider's alignment is not a JSON object");
      return NULL;
    }
  object = json_node_get_object (node);
  score = json_object_get_member (object, "score");
  status = json_object_get_member (object, "status");
  suggestions = json_object_get_member (object, "suggestions");
  if (score == NULL || !JSON_NODE_HOLDS_VALUE (score) ||
      (json_node_get_value_type (score) != G_TYPE_DOUBLE &&
       json_node_get_value_type (score) != G_TYPE_INT64) ||
      (value = json_node_get_double (score)) < 0 || value > 1)
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_PROVIDER_PROTOCOL_ERROR,
                           "The AI provider's alignment score is not a number from 0 to 1");
      return NULL;
    }
  if (status == NULL || !JSON_NODE_HOLDS_VALUE (status) ||
      json_node_get_value_type (status) != G_TYPE_STRING ||
      !g_strv_contains (statuses, json_node_get_string (status)))
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_PROVIDER_PROTOCOL_ERROR,
                           "The AI provider's alignment status is not aligned, misaligned or "
                           "review_needed");
      return NULL;
    }
  if (suggestions != NULL && !JSON_NODE_HOLDS_ARRAY (suggestions))
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_PROVIDER_PROTOCOL_ERROR,
                           "The AI provider's alignment suggestions are not a list");
      return NULL;
    }
  list = json_array_new ();
  for (guint i = 0;
       suggestions != NULL && i < json_array_get_length (json_node_get_array (suggestions)) &&
       json_array_get_length (list) < PRD_CRAFTIO_MAX_SUGGESTIONS;
       i++)
    {
      JsonNode *element = json_array_get_element (json_node_get_array (suggestions), i);
      const char *suggestion;

      if (!JSON_NODE_HOLDS_VALUE (element) || json_node_get_value_type (element) != G_TYPE_STRING)
        continue;
      suggestion = json_node_get_string (element);
      if (*suggestion == '\0' || !g_utf8_validate (suggestion, -1, NULL))
        continue;
      if (g_utf8_strlen (suggestion, -1) > 500)
        {
          g_autofree char *cut =
              g_strndup (suggestion, g_utf8_offset_to_pointer (suggestion, 499) - suggestion);
          g_autofree char *with = g_strconcat (cut, "…", NULL);

          json_array_add_string_element (list, with);
        }
      else
        json_array_add_string_element (list, suggestion);
    }
  alignment = json_object_new ();
  json_object_set_double_member (alignment, "score", (double) (gint64) (value * 100 + 0.5) / 100);
  json_object_set_string_member (alignment, "status", json_node_get_string (status));
  json_object_set_array_member (alignment, "suggestions", list);
  return alignment;
}

static void
on_ai_alignment (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Request *request = user_data;
  g_autoptr (PrdAiResponse) response = NULL;
  g_autoptr (JsonObject) alignment = NULL;
  GError *error = NULL;

  if (prd_ai_provider_complete_finish (PRD_AI_PROVIDER (source), result, &response, &error))
    alignment = alignment_from_ai (response != NULL ? response->text : NULL, &error);
  if (alignment == NULL)
    {
      request_fail (request, error);
      return;
    }
  reply_alignment (request, alignment, "ai");
  request_free (request);
}

/* The longest PRD text sent to the model (bytes). */
#define MAX_AI_TEXT 50000

/* Takes @request. */
static void
ask_ai (Request *request, GPtrArray *links, const char *text)
{
  g_autoptr (GPtrArray) messages = prd_ai_messages_new ();
  g_autoptr (JsonNode) list = json_node_new (JSON_NODE_ARRAY);
  JsonArray *array = json_array_new ();
  g_autofree char *initiatives = NULL;
  g_autofree char *prd = NULL;
  g_autofree char *question = NULL;
  const char *cut = text;

  for (guint i = 0; i < links->len; i++)
    {
      g_autoptr (PrdCraftInitiative) initiative =
          initiative_from_link (g_ptr_array_index (links, i));

      json_array_add_object_element (array, prd_craft_initiative_to_json (initiative));
    }
  json_node_take_array (list, array);
  initiatives = json_to_string (list, FALSE);
  if (strlen (text) > MAX_AI_TEXT)
    {
      cut = text + MAX_AI_TEXT;
      while (cut > text && (*cut & 0xc0) == 0x80)
        cut--;
    }
  prd = g_strdup_printf ("The PRD (Markdown):\n\n%.*s",
                         (int) (cut == text ? strlen (text) : (gsize) (cut - text)), text);
  question = g_strdup_printf (
      "The Craft.io initiatives it is linked to (JSON): %s\n\nHow well does the PRD serve "
      "their objectives? Answer with one JSON object only: {\"score\": a number from 0 to 1, "
      "\"status\": \"aligned\" | \"misaligned\" | \"review_needed\", \"suggestions\": [at "
      "most %d short suggestions]}",
      initiatives, PRD_CRAFTIO_MAX_SUGGESTIONS);
  g_ptr_array_add (messages,
                   prd_ai_message_new (PRD_AI_ROLE_SYSTEM,
                                       "You check whether a product requirements document is "
                                       "aligned with the product initiatives it belongs to."));
  g_ptr_array_add (messages, prd_ai_message_new (PRD_AI_ROLE_USER, prd));
  g_ptr_array_add (messages, prd_ai_message_new (PRD_AI_ROLE_USER, question));
  prd_ai_provider_complete_async (request->self->ai, messages, request->self->cancellable,
                                  on_ai_alignment, request);
}

static void
check_alignment (Request *request, GPtrArray *links, const char *text)
{
  g_autoptr (GPtrArray) initiatives =
      g_ptr_array_new_with_free_func ((GDestroyNotify) prd_craft_initiative_free);
  g_autoptr (GPtrArray) suggestions = g_ptr_array_new_with_free_func (g_free);
  JsonArray *list = json_array_new ();
  JsonObject *alignment;
  double score;

  for (guint i = 0; i < links->len; i++)
    g_ptr_array_add (initiatives, initiative_from_link (g_ptr_array_index (links, i)));
  score = prd_craftio_alignment ((const PrdCraftInitiative *const *) initiatives->pdata,
                                 initiatives->len, text, suggestions);
  for (guint i = 0; i < suggestions->len; i++)
    json_array_add_string_element (list, g_ptr_array_index (suggestions, i));
  alignment = json_object_new ();
  json_object_set_double_member (alignment, "score", score);
  json_object_set_string_member (alignment, "status", prd_craftio_alignment_status (score));
  json_object_set_array_member (alignment, "suggestions", list);
  reply_alignment (request, alignment, "heuristic");
  json_object_unref (alignment);
}

static void
on_loaded_for_alignment (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Request *request = user_data;
  g_autoptr (PrdStoreDocument) stored = NULL;
  g_autoptr (PrdDocument) document = NULL;
  g_autofree char *text = NULL;
  GError *error = NULL;

  stored = prd_store_load_finish (PRD_STORE (source), result, &error);
  if (stored != NULL)
    document = prd_hub_document_from_store (stored, &error);
  if (document == NULL)
    {
      request_fail (request, error);
      return;
    }
  text = prd_crdt_doc_get_text (prd_document_get_crdt (document));
  if (request->self->ai != NULL)
    {
      ask_ai (request, request->links, text);
      return;
    }
  check_alignment (request, request->links, text);
  request_free (request);
}

static void
on_links (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Request *request = user_data;
  g_autoptr (GPtrArray) links = NULL;
  PrdIntegrationLinkRecord *found = NULL;
  GError *error = NULL;

  links = prd_integration_store_list_links_finish (PRD_INTEGRATION_STORE (source), result, &error);
  if (links == NULL)
    {
      request_fail (request, error);
      return;
    }
  for (guint i = 0; i < links->len && request->initiative_id != NULL; i++)
    if (g_str_equal (((PrdIntegrationLinkRecord *) g_ptr_array_index (links, i))->remote_id,
                     request->initiative_id))
      found = g_ptr_array_index (links, i);
  switch (request->kind)
    {
      case REQUEST_LINK:
        if (found != NULL)
          error = g_error_new (PRD_ERROR, PRD_ERROR_ALREADY_EXISTS,
                               "Initiative %s is already linked to %s", request->initiative_id,
                               request->prd_id);
        else if (links->len >= PRD_HUB_CRAFTIO_MAX_LINKS)
          error = too_many_links ();
        if (error != NULL)
          {
            request_fail (request, error);
            return;
          }
        prd_craftio_get_item_async (request->craft, request->initiative_id,
                                    PRD_CRAFTIO_CALL_DEFAULT, request->self->cancellable, on_item,
                                    request);
        return;
      case REQUEST_UNLINK:
        if (found == NULL)
          {
            request_fail (request, not_linked (request));
            return;
          }
        prd_integration_store_delete_link_async (request->self->links, request->org,
                                                 PRD_CRAFTIO_SERVICE, found->remote_key,
                                                 request->self->cancellable, on_unlinked, request);
        return;
      case REQUEST_ALIGNMENT:
      default:
        if (links->len == 0)
          {
            request_fail (request,
                          g_error_new (PRD_ERROR, PRD_ERROR_NOT_FOUND,
                                       "No Craft.io initiative is linked to %s", request->prd_id));
            return;
          }
        request->links = g_steal_pointer (&links);
        prd_store_load_async (request->self->store, request->prd_id, request->self->cancellable,
                              on_loaded_for_alignment, request);
        return;
    }
}

static void
list_links (Request *request)
{
  prd_integration_store_list_links_async (request->self->links, request->org, PRD_CRAFTIO_SERVICE,
                                          request->prd_id, request->self->cancellable, on_links,
                                          request);
}

static void
on_entry (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Request *request = user_data;
  g_autoptr (PrdIntegrationEntry) entry = NULL;
  GError *error = NULL;

  entry = prd_integration_registry_get_finish (PRD_INTEGRATION_REGISTRY (source), result, &error);
  if (entry == NULL)
    {
      request_fail (request, error);
      return;
    }
  if (!prd_integration_entry_check_usable (
          entry, PRD_TYPE_CRAFTIO, "Craft.io is not configured for this organization", &error))
    {
      request_fail (request, error);
      return;
    }
  request->craft = PRD_CRAFTIO (g_object_ref (entry->integration));
  list_links (request);
}

static void
on_prd (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Request *request = user_data;
  g_autoptr (PrdStoreInfo) info = NULL;
  GError *error = NULL;

  info = prd_store_get_finish (PRD_STORE (source), result, &error);
  if (info != NULL && !g_str_equal (info->org, request->org))
    {
      g_clear_pointer (&info, prd_store_info_free);
      error = prd_error_new_prd_not_found (request->prd_id);
    }
  if (info == NULL)
    {
      if (g_error_matches (error, PRD_ERROR, PRD_ERROR_NOT_FOUND))
        error->code = PRD_ERROR_PRD_NOT_FOUND;
      request_fail (request, error);
      return;
    }
  request->prd_title = g_strdup (info->title);
  if (request->kind == REQUEST_UNLINK)
    list_links (request);
  else
    prd_integration_registry_get_async (request->self->registry, request->org, PRD_CRAFTIO_SERVICE,
                                        request->self->cancellable, on_entry, request);
}

static void
start_request (PrdHubCraftio *self,
               PrdSioSocket *socket,
               const char *event,
               JsonArray *args,
               gint64 ack_id,
               RequestKind kind)
{
  const PrdIdentity *identity = prd_hub_socket_get_identity (socket);
  g_autoptr (GError) error = NULL;
  const char *prd_id = NULL;
  const char *initiative_id = NULL;
  JsonObject *body;
  Request *request;

  body = prd_hub_payload_get_prd (socket, event, args, ack_id, &prd_id);
  if (body == NULL)
    return;
  if (kind != REQUEST_ALIGNMENT && identity->role == PRD_ROLE_VIEWER)
    {
      prd_hub_reply_error_literal (socket, ack_id, event, prd_id, PRD_ERROR_FORBIDDEN,
                                   "Viewers cannot link a PRD to Craft.io initiatives");
      return;
    }
  if (kind != REQUEST_ALIGNMENT)
    {
      initiative_id = prd_hub_json_get_string (body, "initiativeId", &error);
      if (initiative_id == NULL)
        {
          prd_hub_reply_error (socket, ack_id, event, prd_id, error);
          return;
        }
      if (!prd_craftio_id_is_valid (initiative_id))
        {
          prd_hub_reply_error_literal (
              socket, ack_id, event, prd_id, PRD_ERROR_INVALID_PAYLOAD,
              "initiativeId must be 1 to 128 letters, digits, '-', '_' or '.', not dots only");
          return;
        }
    }
  request = g_new0 (Request, 1);
  request->self = g_object_ref (self);
  request->socket = g_object_ref (socket);
  request->ack_id = ack_id;
  request->kind = kind;
  request->event = kind == REQUEST_LINK     ? "craft-link"
                   : kind == REQUEST_UNLINK ? "craft-unlink"
                                            : "craft-check-alignment";
  request->prd_id = g_strdup (prd_id);
  request->org = g_strdup (identity->org);
  request->initiative_id = g_strdup (initiative_id);
  request->retirements = retirements_of (self, identity->org);
  prd_store_get_async (self->store, prd_id, self->cancellable, on_prd, request);
}

static void
on_craft_link (PrdSioSocket *socket,
               const char *event,
               JsonArray *args,
               GPtrArray *attachments,
               gint64 ack_id,
               gpointer user_data)
{
  start_request (user_data, socket, event, args, ack_id, REQUEST_LINK);
}

static void
on_craft_unlink (PrdSioSocket *socket,
                 const char *event,
                 JsonArray *args,
                 GPtrArray *attachments,
                 gint64 ack_id,
                 gpointer user_data)
{
  start_request (user_data, socket, event, args, ack_id, REQUEST_UNLINK);
}

static void
on_craft_check_alignment (PrdSioSocket *socket,
                          const char *event,
                          JsonArray *args,
                          GPtrArray *attachments,
                          gint64 ack_id,
                          gpointer user_data)
{
  start_request (user_data, socket, event, args, ack_id, REQUEST_ALIGNMENT);
}

static const PrdHubEventEntry events[] = {
  { "craft-link", on_craft_link },
  { "craft-unlink", on_craft_unlink },
  { "craft-check-alignment", on_craft_check_alignment },
};

/* ---- a new PRD: automatic links and suggestions ---- */

typedef struct
{
  PrdHubCraftio *self; /* (owned) */
  char *org;
  char *prd_id;
  char *title;
  char *owner;
  PrdCraftio *craft;              /* (owned) (nullable) */
  GHashTable *linked;             /* (nullable): the initiatives linked to the PRD already */
  GPtrArray *initiatives;         /* (owned) (nullable): the workspace's titles, shared */
  const PrdCraftInitiative *best; /* (nullable): in @initiatives, the one to link */
  PrdCraftInitiative *item;       /* (owned) (nullable): @best as Craft.io says it now */
  guint retirements;              /* retirements_of() the org when the PRD was titled */
} Titled;

static void
titled_free (Titled *titled)
{
  g_object_unref (titled->self);
  g_free (titled->org);
  g_free (titled->prd_id);
  g_free (titled->title);
  g_free (titled->owner);
  g_clear_object (&titled->craft);
  g_clear_pointer (&titled->linked, g_hash_table_unref);
  g_clear_pointer (&titled->initiatives, g_ptr_array_unref);
  g_clear_pointer (&titled->item, prd_craft_initiative_free);
  g_free (titled);
}

static void
offer (Titled *titled,
       PrdHubAnnounce *announce,
       const PrdCraftInitiative *initiative,
       const char *type)
{
  g_autoptr (JsonNode) payload = linked_payload (titled->prd_id, initiative, type);
  g_autofree char *message = NULL;

  prd_hub_room_registry_emit (titled->self->rooms, titled->prd_id, "craft-initiative-linked",
                              payload);
  if (titled->owner == NULL)
    return;
  message = g_strdup_printf (g_str_equal (type, "automatic")
                                 ? "\"%s\" was linked to the Craft.io initiative \"%s\""
                                 : "\"%s\" may belong to the Craft.io initiative \"%s\"",
                             titled->title, initiative->title);
  prd_hub_announce_notify (
      announce, titled->owner,
      prd_hub_notification_new ("craft_initiative_linked",
                                g_str_equal (type, "automatic") ? "Initiative linked"
                                                                : "Initiative suggested",
                                message, json_object_ref (json_node_get_object (payload))));
}

/* Offers @linked (linked automatically, when not %NULL) and the other
 * initiatives that match the title but @left_out; takes @titled. The
 * others come from the workspace's titles: their objectives are not read. */
static void
offer_all (Titled *titled, const PrdCraftInitiative *linked, const PrdCraftInitiative *left_out)
{
  g_autoptr (PrdHubAnnounce) announce = prd_hub_announce_new (titled->org);
  guint offered = 0;

  if (linked != NULL)
    offer (titled, announce, linked, "automatic");
  for (guint i = 0; i < titled->initiatives->len && offered < MAX_SUGGESTED; i++)
    {
      PrdCraftInitiative *initiative = g_ptr_array_index (titled->initiatives, i);

      if ((linked != NULL && g_str_equal (initiative->id, linked->id)) ||
          (left_out != NULL && g_str_equal (initiative->id, left_out->id)) ||
          g_hash_table_contains (titled->linked, initiative->id) ||
          prd_craftio_match_score (titled->title, initiative) < PRD_CRAFTIO_SUGGEST_SCORE)
        continue;
      offer (titled, announce, initiative, "suggested");
      offered++;
    }
  /* One notification per user and announce: the owner hears of the first
   * offer; each one went to the room. */
  if (announce->notifications->len > 0)
    record (titled->self, announce);
  titled_free (titled);
}

static void
on_auto_linked (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Titled *titled = user_data;
  g_autoptr (GError) error = NULL;

  if (prd_integration_store_add_link_finish (PRD_INTEGRATION_STORE (source), result, &error))
    {
      offer_all (titled, titled->item, NULL);
      return;
    }
  /* Deleted meanwhile: nothing to link nor to offer. */
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) ||
      g_error_matches (error, PRD_ERROR, PRD_ERROR_PRD_NOT_FOUND))
    {
      titled_free (titled);
      return;
    }
  /* The PRD holds as many links as it may: the best match is only
   * offered, as the others are, for an editor to make room for it. */
  if (g_error_matches (error, PRD_ERROR, PRD_ERROR_LIMIT_REACHED))
    {
      g_info ("craftio (%s): %s not linked to initiative %s automatically: %s", titled->org,
              titled->prd_id, titled->best->id, error->message);
      offer_all (titled, NULL, NULL);
      return;
    }
  /* Linked meanwhile (an editor's craft-link): nothing to offer of it. */
  if (!g_error_matches (error, PRD_ERROR, PRD_ERROR_ALREADY_EXISTS))
    g_warning ("Cannot keep an automatic Craft.io link: %s", error->message);
  offer_all (titled, NULL, titled->best);
}

static void
on_best_item (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Titled *titled = user_data;
  g_autoptr (PrdIntegrationLinkRecord) link = NULL;
  g_autoptr (GError) error = NULL;

  titled->item = prd_craftio_get_item_finish (PRD_CRAFTIO (source), result, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) ||
      retirements_of (titled->self, titled->org) != titled->retirements)
    {
      titled_free (titled);
      return;
    }
  if (titled->item == NULL)
    {
      g_info ("craftio (%s): %s not linked to initiative %s automatically: %s", titled->org,
              titled->prd_id, titled->best->id, error->message);
      offer_all (titled, NULL, titled->best);
      return;
    }
  /* The store adds it only while the PRD holds fewer than the most links
   * it may: renames one after another never pass the limit. */
  link = link_new (titled->org, titled->prd_id, titled->item, 1);
  prd_integration_store_add_link_async (titled->self->links, link, PRD_HUB_CRAFTIO_MAX_LINKS,
                                        titled->self->cancellable, on_auto_linked, titled);
}

static void
on_candidates (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Titled *titled = user_data;
  PrdCraftInitiative *best = NULL;
  double best_score = 0;

  titled->initiatives = prd_craftio_list_titles_finish (PRD_CRAFTIO (source), result, NULL);
  if (titled->initiatives == NULL ||
      retirements_of (titled->self, titled->org) != titled->retirements)
    {
      titled_free (titled);
      return;
    }
  for (guint i = 0; i < titled->initiatives->len; i++)
    {
      PrdCraftInitiative *initiative = g_ptr_array_index (titled->initiatives, i);
      double score = prd_craftio_match_score (titled->title, initiative);

      if (g_hash_table_contains (titled->linked, initiative->id))
        continue;
      if (prd_craftio_match_is_automatic (titled->title, initiative) && score > best_score)
        {
          best = initiative;
          best_score = score;
        }
    }
  if (best == NULL)
    {
      offer_all (titled, NULL, NULL);
      return;
    }
  /* The titles have no objectives: the link keeps the item as read now. */
  titled->best = best;
  prd_craftio_get_item_async (titled->craft, best->id, PRD_CRAFTIO_CALL_DEFAULT,
                              titled->self->cancellable, on_best_item, titled);
}

static void
on_titled_links (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Titled *titled = user_data;
  g_autoptr (GPtrArray) links = NULL;

  links = prd_integration_store_list_links_finish (PRD_INTEGRATION_STORE (source), result, NULL);
  if (links == NULL)
    {
      titled_free (titled);
      return;
    }
  titled->linked = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  for (guint i = 0; i < links->len; i++)
    g_hash_table_add (
        titled->linked,
        g_strdup (((PrdIntegrationLinkRecord *) g_ptr_array_index (links, i))->remote_id));
  prd_craftio_list_titles_async (titled->craft, titled->self->cancellable, on_candidates, titled);
}

static void
on_titled_entry (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Titled *titled = user_data;
  g_autoptr (PrdIntegrationEntry) entry = NULL;

  entry = prd_integration_registry_get_finish (PRD_INTEGRATION_REGISTRY (source), result, NULL);
  if (entry == NULL || entry->integration == NULL || !PRD_IS_CRAFTIO (entry->integration))
    {
      titled_free (titled);
      return;
    }
  titled->craft = PRD_CRAFTIO (g_object_ref (entry->integration));
  prd_integration_store_list_links_async (titled->self->links, titled->org, PRD_CRAFTIO_SERVICE,
                                          titled->prd_id, titled->self->cancellable,
                                          on_titled_links, titled);
}

/**
 * prd_hub_craftio_prd_titled:
 * @owner: (nullable): who hears of the offers
 *
 * A PRD was created or renamed to @title: initiatives that match it and
 * are not linked to it yet are linked or offered (when Craft.io is
 * configured for @org).
 */
void
prd_hub_craftio_prd_titled (
    PrdHubCraftio *self, const char *org, const char *prd_id, const char *title, const char *owner)
{
  Titled *titled;

  g_return_if_fail (PRD_IS_HUB_CRAFTIO (self));
  g_return_if_fail (org != NULL && prd_id != NULL && title != NULL);

  titled = g_new0 (Titled, 1);
  titled->self = g_object_ref (self);
  titled->org = g_strdup (org);
  titled->prd_id = g_strdup (prd_id);
  titled->title = g_strdup (title);
  titled->owner = g_strdup (owner);
  titled->retirements = retirements_of (self, org);
  prd_integration_registry_get_async (self->registry, org, PRD_CRAFTIO_SERVICE, self->cancellable,
                                      on_titled_entry, titled);
}

/* ---- polling ---- */

typedef struct
{
  PrdHubCraftio *self; /* (owned) */
  char *org;
  gint64 started;      /* the cursor of the next poll (poll_cursor()) */
  gint64 started_real; /* the hub's clock when the poll began, µs */
  gint64 started_mono; /* the monotonic clock then */
  gint64 offset;       /* the next PollState.offset */
  gboolean behind;     /* the next PollState.behind */
  guint interval;
  PrdCraftio *craft;  /* (owned) (nullable) */
  GHashTable *linked; /* (owned) (nullable): remote id → GPtrArray of its links */
  GPtrArray *missing; /* (owned) (nullable): linked ids to read by id */
  guint next_missing; /* in @missing, the next to read by id */
  gboolean listed;    /* the listing worked: the next poll starts from this one */
  gboolean ended;     /* the poll ran to its end: it sets the status */
  GHashTable *unread; /* (owned): linked ids whose read failed in this poll */
  GError *failure;    /* (owned) (nullable): the poll's first failure */
  guint retirements;  /* retirements_of() the org when the poll began */
} Poll;

/* The next poll asks for what changed since this one began when this
 * one's listing worked: a linked initiative it could not read (nor gone)
 * is read by id at the next polls until it reads. A poll that ran to its
 * end sets the status once for all its calls. */
static void
poll_end (Poll *poll, guint next_in)
{
  PollState *state =
      poll->self->polls != NULL ? g_hash_table_lookup (poll->self->polls, poll->org) : NULL;

  if (state != NULL)
    {
      state->running = FALSE;
      state->next_due = g_get_monotonic_time () + (gint64) next_in * G_USEC_PER_SEC;
      if (poll->listed)
        {
          state->last_start = poll->started;
          state->offset = poll->offset;
          state->behind = poll->behind;
          g_clear_pointer (&state->unread, g_hash_table_unref);
          if (g_hash_table_size (poll->unread) > 0)
            state->unread = g_hash_table_ref (poll->unread);
        }
    }
  if (poll->ended && poll->craft != NULL)
    prd_craftio_report_poll (poll->craft, poll->failure);
  g_object_unref (poll->self);
  g_free (poll->org);
  g_clear_object (&poll->craft);
  g_clear_pointer (&poll->linked, g_hash_table_unref);
  g_clear_pointer (&poll->missing, g_ptr_array_unref);
  g_hash_table_unref (poll->unread);
  g_clear_error (&poll->failure);
  g_free (poll);
}

static gboolean
strv_has (GStrv strv, const char *text)
{
  return g_strv_contains ((const char *const *) strv, text);
}

/* Returns: (nullable): the seed's `changes`, or %NULL when nothing the
 * seed names changed */
static JsonObject *
changes_of (const PrdCraftInitiative *before, const PrdCraftInitiative *now)
{
  JsonObject *changes = json_object_new ();
  JsonArray *added = json_array_new ();
  JsonArray *removed = json_array_new ();

  if (g_strcmp0 (before->status, now->status) != 0)
    {
      JsonObject *change = json_object_new ();

      if (before->status != NULL)
        json_object_set_string_member (change, "from", before->status);
      else
        json_object_set_null_member (change, "from");
      if (now->status != NULL)
        json_object_set_string_member (change, "to", now->status);
      else
        json_object_set_null_member (change, "to");
      json_object_set_object_member (changes, "status", change);
    }
  if (g_strcmp0 (before->title, now->title) != 0)
    {
      JsonObject *change = json_object_new ();

      json_object_set_string_member (change, "from", before->title);
      json_object_set_string_member (change, "to", now->title);
      json_object_set_object_member (changes, "title", change);
    }
  for (guint i = 0; now->objectives[i] != NULL; i++)
    if (!strv_has (before->objectives, now->objectives[i]))
      json_array_add_string_element (added, now->objectives[i]);
  for (guint i = 0; before->objectives[i] != NULL; i++)
    if (!strv_has (now->objectives, before->objectives[i]))
      json_array_add_string_element (removed, before->objectives[i]);
  if (json_array_get_length (added) > 0 || json_array_get_length (removed) > 0)
    {
      JsonObject *change = json_object_new ();

      if (json_array_get_length (added) > 0)
        json_object_set_array_member (change, "added", json_array_ref (added));
      if (json_array_get_length (removed) > 0)
        json_object_set_array_member (change, "removed", json_array_ref (removed));
      json_object_set_object_member (changes, "objectives", change);
    }
  json_array_unref (added);
  json_array_unref (removed);
  if (json_object_get_size (changes) == 0)
    {
      json_object_unref (changes);
      return NULL;
    }
  return changes;
}

static void
on_links_updated (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GError) error = NULL;

  if (!prd_integration_store_update_links_finish (PRD_INTEGRATION_STORE (source), result, &error) &&
      !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_warning ("Cannot keep what Craft.io said of an initiative: %s", error->message);
}

static void
announce_update (Poll *poll,
                 const PrdCraftInitiative *initiative,
                 JsonObject *changes,
                 GPtrArray *linked)
{
  g_autoptr (PrdHubAnnounce) announce = prd_hub_announce_new (poll->org);
  g_autoptr (GPtrArray) updated =
      g_ptr_array_new_with_free_func ((GDestroyNotify) prd_integration_link_record_free);
  JsonArray *affected = json_array_new ();
  JsonObject *object;

  for (guint i = 0; i < linked->len; i++)
    {
      PrdIntegrationLinkRecord *link = g_ptr_array_index (linked, i);

      json_array_add_string_element (affected, link->prd_id);
      g_ptr_array_add (updated, link_new (poll->org, link->prd_id, initiative, link->position));
    }
  for (guint i = 0; i < linked->len; i++)
    {
      PrdIntegrationLinkRecord *link = g_ptr_array_index (linked, i);
      JsonObject *payload = json_object_new ();
      JsonObject *what = json_object_new ();
      g_autoptr (JsonNode) node = prd_hub_object_node (payload);

      json_object_set_string_member (what, "id", initiative->id);
      json_object_set_object_member (what, "changes", json_object_ref (changes));
      json_object_set_string_member (payload, "prdId", link->prd_id);
      json_object_set_object_member (payload, "initiative", what);
      json_object_set_array_member (payload, "affectedPRDs", json_array_ref (affected));
      prd_hub_room_registry_emit (poll->self->rooms, link->prd_id, "craft-initiative-updated",
                                  node);
    }
  g_info ("craftio (%s): initiative %s changed; %u PRDs linked", poll->org, initiative->id,
          linked->len);
  object = json_object_new ();
  json_object_set_string_member (object, "type", "initiative");
  json_object_set_string_member (object, "id", initiative->id);
  json_object_set_string_member (object, "title", initiative->title);
  json_object_set_object_member (object, "changes", json_object_ref (changes));
  json_object_set_array_member (object, "affectedPRDs", affected);
  prd_hub_announce_activity (
      announce, prd_hub_activity_new ("craft_initiative_updated", "craftio", "Craft.io", object));
  record (poll->self, announce);
  /* Only links still kept are updated: one a craft-unlink forgot since
   * they were read is not written back. */
  prd_integration_store_update_links_async (poll->self->links, updated, poll->self->cancellable,
                                            on_links_updated, NULL);
}

/* Compares @initiative with what its links last heard, and announces a
 * change. */
static void
poll_compare (Poll *poll, const PrdCraftInitiative *initiative)
{
  GPtrArray *linked = g_hash_table_lookup (poll->linked, initiative->id);
  g_autoptr (PrdCraftInitiative) before = NULL;
  g_autoptr (JsonObject) changes = NULL;

  if (linked == NULL)
    return;
  before = initiative_from_link (g_ptr_array_index (linked, 0));
  changes = changes_of (before, initiative);
  if (changes != NULL)
    announce_update (poll, initiative, changes, linked);
}

static void read_missing (Poll *poll);

static void
on_missing_item (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Poll *poll = user_data;
  g_autoptr (PrdCraftInitiative) initiative = NULL;
  g_autoptr (GError) error = NULL;
  const char *id = g_ptr_array_index (poll->missing, poll->next_missing - 1);

  initiative = prd_craftio_get_item_finish (PRD_CRAFTIO (source), result, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) ||
      retirements_of (poll->self, poll->org) != poll->retirements)
    {
      poll->listed = FALSE;
      poll->ended = FALSE;
      poll_end (poll, poll->interval);
      return;
    }
  if (initiative != NULL)
    poll_compare (poll, initiative);
  /* Gone from Craft.io (INVALID_PAYLOAD): nothing to announce. Else read
   * again at the next polls, until it reads. */
  else if (!g_error_matches (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD))
    {
      g_hash_table_add (poll->unread, g_strdup (id));
      if (poll->failure == NULL)
        poll->failure = g_steal_pointer (&error);
    }
  read_missing (poll);
}

/* One at a time: a capped listing costs Craft.io one request per linked
 * initiative it left out (and one per linked initiative whose read failed
 * before), not a burst of them. */
static void
read_missing (Poll *poll)
{
  if (poll->missing == NULL || poll->next_missing >= poll->missing->len)
    {
      poll_end (poll, poll->interval);
      return;
    }
  prd_craftio_get_item_async (poll->craft, g_ptr_array_index (poll->missing, poll->next_missing++),
                              PRD_CRAFTIO_CALL_POLL, poll->self->cancellable, on_missing_item,
                              poll);
}

/* The next poll's cursor (updated_from, less a second of overlap):
 * Craft.io compares it with its own updateTime, so it is by Craft.io's
 * clock, not by ours, which may be ahead of it. @clock is that clock when
 * the listing was asked for (its Date less the round trip), 0 for none. A
 * Date can lie (a proxy's wrong clock) and one that is ahead loses every
 * change before the next poll, so the cursor never moves forward by more
 * than the monotonic time since the last one was taken (Craft.io's clock
 * runs at the rate of ours); the first has the hub's clock for a bound. A
 * Date behind is taken: re-reading costs, but loses nothing. It becomes
 * the reckoning too, unless it is more than SKEW_TOLERANCE behind it for
 * one poll only (one wrong answer does not make every poll re-read). */
static void
poll_cursor (Poll *poll, PollState *state, gint64 requested_at, gint64 clock)
{
  static PrdLogThrottle skews =
      PRD_LOG_THROTTLE_INIT (G_LOG_LEVEL_MESSAGE, "craftio: a listing's Date", "lines");
  gboolean first = state->last_start == 0;
  gint64 bound;
  gint64 skew = 0;

  if (first)
    bound = poll->started_real + (requested_at - poll->started_mono);
  else
    bound = state->offset + requested_at;
  poll->started = clock > 0 ? MIN (clock, bound) : bound;
  poll->offset = bound - requested_at;
  if (clock > 0)
    skew = clock - bound;
  poll->behind = skew < -SKEW_TOLERANCE;
  if (skew < 0 && (first || !poll->behind || state->behind))
    poll->offset = clock - requested_at;
  if (ABS (skew) <= SKEW_TOLERANCE)
    state->skewed = FALSE;
  else if (!state->skewed)
    {
      state->skewed = TRUE;
      if (prd_log_throttle_admit (&skews))
        g_message ("craftio (%s): a listing's Date is %" G_GINT64_FORMAT
                   " s %s the hub's reckoning of Craft.io's clock (%s); polls ask for changes "
                   "since the earlier of the two",
                   poll->org, ABS (skew) / G_USEC_PER_SEC, skew > 0 ? "ahead of" : "behind",
                   first ? "its own clock" : "the time elapsed since the last poll");
    }
}

static void
on_polled (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Poll *poll = user_data;
  g_autoptr (GPtrArray) initiatives = NULL;
  g_autoptr (GHashTable) listed = NULL;
  g_autoptr (GError) error = NULL;
  gboolean complete = FALSE;
  gint64 requested_at = 0;
  gint64 clock = 0;
  PollState *state;
  guint left_out = 0;
  GHashTableIter iter;
  gpointer id;

  initiatives = prd_craftio_list_initiatives_finish (PRD_CRAFTIO (source), result, &complete,
                                                     &requested_at, &clock, &error);
  /* Settings removed meanwhile: their links are gone, and stay gone. */
  if (retirements_of (poll->self, poll->org) != poll->retirements || poll->self->polls == NULL ||
      g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      poll_end (poll, poll->interval);
      return;
    }
  poll->ended = TRUE;
  if (initiatives == NULL)
    {
      poll->failure = g_steal_pointer (&error);
      poll_end (poll, poll->interval);
      return;
    }
  state = g_hash_table_lookup (poll->self->polls, poll->org);
  if (state != NULL)
    poll_cursor (poll, state, requested_at, clock);
  listed = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; i < initiatives->len; i++)
    {
      PrdCraftInitiative *initiative = g_ptr_array_index (initiatives, i);

      g_hash_table_add (listed, initiative->id);
      poll_compare (poll, initiative);
    }
  poll->listed = TRUE;
  /* Read by id: the linked initiatives a listing stopped at
   * PRD_CRAFTIO_MAX_PAGES did not reach, and those whose read failed at an
   * earlier poll (this listing did not bring them). */
  poll->missing = g_ptr_array_new_with_free_func (g_free);
  g_hash_table_iter_init (&iter, poll->linked);
  while (g_hash_table_iter_next (&iter, &id, NULL))
    {
      if (g_hash_table_contains (listed, id))
        continue;
      if (!complete)
        left_out++;
      if (!complete ||
          (state != NULL && state->unread != NULL && g_hash_table_contains (state->unread, id)))
        g_ptr_array_add (poll->missing, g_strdup (id));
    }
  if (!complete)
    g_message ("craftio (%s): the poll's listing stopped at %d pages; %u linked initiatives are "
               "read one by one",
               poll->org, PRD_CRAFTIO_MAX_PAGES, left_out);
  read_missing (poll);
}

static void
on_poll_links (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Poll *poll = user_data;
  g_autoptr (GPtrArray) links = NULL;
  PollState *state;

  links = prd_integration_store_list_links_finish (PRD_INTEGRATION_STORE (source), result, NULL);
  if (links == NULL || poll->self->polls == NULL ||
      retirements_of (poll->self, poll->org) != poll->retirements)
    {
      poll_end (poll, poll->interval);
      return;
    }
  poll->linked =
      g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_ptr_array_unref);
  for (guint i = 0; i < links->len; i++)
    {
      PrdIntegrationLinkRecord *link = g_ptr_array_index (links, i);
      GPtrArray *linked = g_hash_table_lookup (poll->linked, link->remote_id);

      if (linked == NULL)
        {
          linked =
              g_ptr_array_new_with_free_func ((GDestroyNotify) prd_integration_link_record_free);
          g_hash_table_insert (poll->linked, g_strdup (link->remote_id), linked);
        }
      g_ptr_array_add (linked, prd_integration_link_record_copy (link));
    }
  state = g_hash_table_lookup (poll->self->polls, poll->org);
  /* One second of overlap: an update in the second the last poll began is
   * seen again rather than missed (unchanged initiatives send nothing). */
  prd_craftio_list_initiatives_async (
      poll->craft, state->last_start > 0 ? MAX (1, state->last_start - G_USEC_PER_SEC) : 0,
      poll->linked, poll->self->cancellable, on_polled, poll);
}

static void
on_poll_entry (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Poll *poll = user_data;
  g_autoptr (PrdIntegrationEntry) entry = NULL;

  entry = prd_integration_registry_get_finish (PRD_INTEGRATION_REGISTRY (source), result, NULL);
  if (entry == NULL || entry->integration == NULL || !PRD_IS_CRAFTIO (entry->integration) ||
      poll->self->polls == NULL)
    {
      poll_end (poll, 60);
      return;
    }
  poll->craft = PRD_CRAFTIO (g_object_ref (entry->integration));
  poll->interval = prd_craftio_get_poll_interval (poll->craft);
  /* The first poll's bound of its cursor (poll_cursor()). */
  poll->started_real = g_get_real_time ();
  poll->started_mono = g_get_monotonic_time ();
  /* The links first: what a poll announces is about them (its listing
   * keeps the linked initiatives only), and a link forgotten after they
   * were read is never written back. The listing runs with no link too:
   * it is how the admins see Craft.io come back. */
  prd_integration_store_list_links_async (poll->self->links, poll->org, PRD_CRAFTIO_SERVICE, NULL,
                                          poll->self->cancellable, on_poll_links, poll);
}

static void
on_configured (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (PrdHubCraftio) self = user_data;
  g_autoptr (GPtrArray) records = NULL;
  gint64 now = g_get_monotonic_time ();

  records =
      prd_integration_store_list_settings_finish (PRD_INTEGRATION_STORE (source), result, NULL);
  if (records == NULL || self->polls == NULL)
    return;
  for (guint i = 0; i < records->len; i++)
    {
      PrdIntegrationSettingsRecord *record = g_ptr_array_index (records, i);
      PollState *state;
      Poll *poll;

      if (!g_str_equal (record->service, PRD_CRAFTIO_SERVICE))
        continue;
      state = g_hash_table_lookup (self->polls, record->org);
      if (state == NULL)
        {
          state = g_new0 (PollState, 1);
          g_hash_table_insert (self->polls, g_strdup (record->org), state);
        }
      if (state->running || now < state->next_due)
        continue;
      state->running = TRUE;
      poll = g_new0 (Poll, 1);
      poll->self = g_object_ref (self);
      poll->unread = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
      poll->org = g_strdup (record->org);
      poll->interval = 300;
      poll->retirements = retirements_of (self, record->org);
      prd_integration_registry_get_async (self->registry, record->org, PRD_CRAFTIO_SERVICE,
                                          self->cancellable, on_poll_entry, poll);
    }
}

static gboolean
tick (gpointer user_data)
{
  PrdHubCraftio *self = user_data;

  prd_integration_store_list_settings_async (self->links, NULL, self->cancellable, on_configured,
                                             g_object_ref (self));
  return G_SOURCE_CONTINUE;
}

static void
on_integration_retired (PrdIntegrationRegistry *registry,
                        const char *org,
                        const char *service,
                        gpointer user_data)
{
  PrdHubCraftio *self = user_data;

  if (!g_str_equal (service, PRD_CRAFTIO_SERVICE) || self->retirements == NULL)
    return;
  g_hash_table_insert (self->retirements, g_strdup (org),
                       GUINT_TO_POINTER (retirements_of (self, org) + 1));
}

/**
 * prd_hub_craftio_new:
 * @rooms: the rooms of /prds (the events are registered on its namespace)
 * @store: where PRDs live
 * @registry: the integrations (Craft.io among them)
 * @feed: where notifications and the activity feed are kept
 */
PrdHubCraftio *
prd_hub_craftio_new (PrdHubRoomRegistry *rooms,
                     PrdStore *store,
                     PrdIntegrationRegistry *registry,
                     PrdNotificationStore *feed)
{
  PrdHubCraftio *self;
  PrdSioNamespace *nsp = prd_hub_room_registry_get_namespace (rooms);

  self = g_object_new (PRD_TYPE_HUB_CRAFTIO, NULL);
  self->rooms = g_object_ref (rooms);
  self->store = g_object_ref (store);
  self->registry = g_object_ref (registry);
  self->links = g_object_ref (prd_integration_registry_get_store (registry));
  self->feed = g_object_ref (feed);
  g_signal_connect (registry, "integration-retired", G_CALLBACK (on_integration_retired), self);
  if (nsp != NULL)
    prd_hub_add_events (nsp, events, G_N_ELEMENTS (events), self);
  self->tick_id = g_timeout_add_seconds (PRD_HUB_CRAFTIO_TICK, tick, self);
  return self;
}

/* @provider: (nullable): the model craft-check-alignment asks; without
 * one, the coverage heuristic answers */
void
prd_hub_craftio_set_ai_provider (PrdHubCraftio *self, PrdAiProvider *provider)
{
  g_return_if_fail (PRD_IS_HUB_CRAFTIO (self));

  g_set_object (&self->ai, provider);
}
