/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * PrdHubTokens: a connection lives no longer than its token.
 *
 * Every authenticated socket is kept in one sequence ordered by its token's
 * `exp`, and one timer (a single GSource whose ready time is moved, not a
 * source per connection) wakes at the earliest expiry: that socket gets the
 * `error` event TOKEN_EXPIRED and is disconnected from its namespace. A
 * client that sends `refresh-token` with a fresh token of the same user
 * before then moves its place in the sequence.
 *
 * Revocations (`prdhub token revoke`) are written to the store by another
 * process; the same timer reads them back every `[auth]
 * revocation-check-interval` seconds, gives them to PrdAuth (which then
 * refuses those tokens everywhere: CONNECT, REST, refresh-token),
 * announces each revocation it had not seen yet with `identities-revoked`
 * (so that the hub can end what else the user's tokens had started, such
 * as AI jobs) and disconnects the open connections they cover with
 * TOKEN_REVOKED.
 *
 * A sign-in link (`prdhub token --link`) carries a token that opens nothing
 * but its link: prd_hub_tokens_sign_in_async() checks it, records the link
 * as used in the store (so it works once, and the copy a browser keeps in
 * its history is spent) and gives the session's token in exchange.
 */
#define G_LOG_DOMAIN "prd-hub-tokens"

#include "config.h"

#include "prd-hub-context.h"

#include "prd-hub-tokens-private.h"

#define WATCH_KEY "prd-hub-token-watch"

typedef struct
{
  PrdHubTokens *owner;  /* (unowned) (nullable): NULL once the owner is gone */
  PrdSioSocket *socket; /* (unowned): the watch is the socket's data */
  GSequenceIter *iter;
} Watch;

struct _PrdHubTokens
{
  GObject parent_instance;

  PrdAuth *auth;                    /* (owned) */
  PrdRevocationStore *store;        /* (owned) (nullable) */
  GSequence *watches;               /* (element-type Watch) by expiry; the sockets own them */
  GSource *timer;                   /* (owned) the one timer */
  GCancellable *cancellable;        /* (owned) for the revocation reads */
  guint check_interval;             /* seconds */
  gint64 next_check;                /* monotonic microseconds; 0: none planned */
  gboolean checking;                /* a revocation read is under way */
  PrdHubTokensWallClock wall_clock; /* g_get_real_time() but in tests */
  gpointer wall_clock_data;
};

G_DEFINE_FINAL_TYPE (PrdHubTokens, prd_hub_tokens, G_TYPE_OBJECT)

enum
{
  SIGNAL_IDENTITIES_REVOKED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void on_refresh_token (PrdSioSocket *socket,
                              const char *event,
                              JsonArray *args,
                              GPtrArray *attachments,
                              gint64 ack_id,
                              gpointer user_data);

static const PrdHubEventEntry events[] = {
  { "refresh-token", on_refresh_token },
};

static gint64
watch_exp (const Watch *watch)
{
  return prd_hub_socket_get_identity (watch->socket)->exp;
}

static int
compare_watches (gconstpointer a, gconstpointer b, gpointer user_data)
{
  gint64 ea = watch_exp (a), eb = watch_exp (b);

  if (ea != eb)
    return ea < eb ? -1 : 1;
  return a < b ? -1 : (a > b ? 1 : 0);
}

static void
watch_free (gpointer data)
{
  Watch *watch = data;

  if (watch->owner != NULL)
    g_sequence_remove (watch->iter);
  g_free (watch);
}

static gint64
real_time (PrdHubTokens *self)
{
  return self->wall_clock != NULL ? self->wall_clock (self->wall_clock_data) : g_get_real_time ();
}

static gint64
now_seconds (PrdHubTokens *self)
{
  return real_time (self) / G_USEC_PER_SEC;
}

/* The timer wakes at the earliest expiry or revocation check. An expiry is
 * a wall-clock deadline (a token's `exp`), turned into a monotonic ready
 * time each time the timer is armed; the callback re-reads the wall clock,
 * so a clock step only moves that wake-up. The revocation check is a
 * monotonic deadline: a wall clock set back does not put it off. */
static void
arm (PrdHubTokens *self)
{
  gint64 ready = G_MAXINT64;

  if (!g_sequence_is_empty (self->watches))
    {
      gint64 exp = watch_exp (g_sequence_get (g_sequence_get_begin_iter (self->watches)));

      ready =
          g_get_monotonic_time () +
          MAX (0, MIN (exp, G_MAXINT64 / G_USEC_PER_SEC / 2) * G_USEC_PER_SEC - real_time (self));
    }
  if (self->next_check != 0)
    ready = MIN (ready, self->next_check);
  g_source_set_ready_time (self->timer, ready == G_MAXINT64 ? -1 : ready);
}

static void
end_session (PrdSioSocket *socket, PrdErrorCode code, const char *message)
{
  g_autoptr (GError) error = g_error_new_literal (PRD_ERROR, code, message);
  g_autoptr (JsonNode) payload = prd_hub_error_to_json (error);

  if (!prd_sio_socket_is_connected (socket))
    return;
  g_debug ("%s: %s, disconnecting", prd_sio_socket_get_id (socket), message);
  prd_sio_socket_emit_one (socket, "error", payload);
  prd_sio_socket_disconnect (socket);
}

static void
on_revocations_listed (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (PrdHubTokens) self = user_data;
  g_autoptr (GPtrArray) records = NULL;
  g_autoptr (GPtrArray) revoked = NULL;
  g_autoptr (GPtrArray) fresh = NULL; /* (element-type PrdRevocationRecord) (unowned) */
  g_autoptr (GError) error = NULL;

  records = prd_revocation_store_list_finish (PRD_REVOCATION_STORE (source), result, &error);
  /* Disposed meanwhile: the read may have finished before it saw the
   * cancel. */
  if (self->auth == NULL || g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  self->checking = FALSE;
  if (records == NULL)
    {
      g_warning ("Cannot read the token revocations: %s", error->message);
      return;
    }
  fresh = g_ptr_array_new ();
  for (guint i = 0; i < records->len; i++)
    {
      PrdRevocationRecord *record = g_ptr_array_index (records, i);
      /* A token issued at the revocation's own time: revoked already when
       * PrdAuth knows of this revocation, or of a later one. */
      const PrdIdentity issued_then = {
        .user_id = record->user_id,
        .org = record->org,
        .iat = record->revoked_at,
      };

      if (prd_auth_is_revoked (self->auth, &issued_then))
        continue;
      prd_auth_revoke (self->auth, record->org, record->user_id, record->revoked_at);
      g_ptr_array_add (fresh, record);
    }
  /* Before the connections end, so that what is told to the user on them
   * (an AI job's ai-error) still reaches them. */
  for (guint i = 0; i < fresh->len && self->auth != NULL; i++)
    {
      const PrdRevocationRecord *record = g_ptr_array_index (fresh, i);

      g_signal_emit (self, signals[SIGNAL_IDENTITIES_REVOKED], 0, record->org, record->user_id,
                     record->revoked_at);
    }
  if (self->auth == NULL)
    return;
  revoked = g_ptr_array_new_with_free_func (g_object_unref);
  for (GSequenceIter *it = g_sequence_get_begin_iter (self->watches); !g_sequence_iter_is_end (it);
       it = g_sequence_iter_next (it))
    {
      Watch *watch = g_sequence_get (it);

      if (prd_auth_is_revoked (self->auth, prd_hub_socket_get_identity (watch->socket)))
        g_ptr_array_add (revoked, g_object_ref (watch->socket));
    }
  for (guint i = 0; i < revoked->len; i++)
    end_session (g_ptr_array_index (revoked, i), PRD_ERROR_TOKEN_REVOKED, "Token revoked");
}

static gboolean
on_timer (gpointer user_data)
{
  PrdHubTokens *self = user_data;
  gint64 now = now_seconds (self);

  while (!g_sequence_is_empty (self->watches))
    {
      Watch *watch = g_sequence_get (g_sequence_get_begin_iter (self->watches));
      g_autoptr (PrdSioSocket) socket = NULL;

      if (watch_exp (watch) > now)
        break;
      socket = g_object_ref (watch->socket);
      /* Frees the watch, which leaves the sequence. */
      g_object_set_data (G_OBJECT (socket), WATCH_KEY, NULL);
      end_session (socket, PRD_ERROR_TOKEN_EXPIRED, "Token expired");
    }
  if (self->store != NULL && self->next_check != 0 && self->next_check <= g_get_monotonic_time ())
    {
      self->next_check = g_get_monotonic_time () + self->check_interval * G_USEC_PER_SEC;
      if (!self->checking)
        {
          self->checking = TRUE;
          prd_revocation_store_list_async (self->store, self->cancellable, on_revocations_listed,
                                           g_object_ref (self));
        }
    }
  arm (self);
  return G_SOURCE_CONTINUE;
}

static gboolean
timer_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
  g_source_set_ready_time (source, -1);
  return callback (user_data);
}

static GSourceFuncs timer_funcs = {
  .dispatch = timer_dispatch,
};

static void
on_refresh_token (PrdSioSocket *socket,
                  const char *event,
                  JsonArray *args,
                  GPtrArray *attachments,
                  gint64 ack_id,
                  gpointer user_data)
{
  PrdHubTokens *self = user_data;
  const PrdIdentity *current = prd_hub_socket_get_identity (socket);
  g_autoptr (PrdIdentity) fresh = NULL;
  g_autoptr (GError) error = NULL;
  JsonObject *payload, *ack;
  const char *token;
  Watch *watch;

  payload = prd_hub_payload_get_object (socket, event, args, ack_id);
  if (payload == NULL)
    return;
  token = prd_hub_json_get_string (payload, "token", &error);
  if (token != NULL)
    fresh = prd_auth_verify (self->auth, token, &error);
  if (fresh == NULL)
    {
      prd_hub_reply_error (socket, ack_id, event, NULL, error);
      return;
    }
  if (!g_str_equal (fresh->org, current->org) || !g_str_equal (fresh->user_id, current->user_id))
    {
      prd_hub_reply_error_literal (socket, ack_id, event, NULL, PRD_ERROR_FORBIDDEN,
                                   "The token is for another user");
      return;
    }
  if (fresh->role != current->role)
    {
      prd_hub_reply_error_literal (socket, ack_id, event, NULL, PRD_ERROR_FORBIDDEN,
                                   "The token gives another role; connect again with it");
      return;
    }

  prd_hub_socket_renew_identity (socket, fresh->exp, fresh->iat);
  watch = g_object_get_data (G_OBJECT (socket), WATCH_KEY);
  if (watch != NULL)
    {
      g_sequence_sort_changed (watch->iter, compare_watches, NULL);
      arm (self);
    }
  g_debug ("%s: token refreshed, expires at %" G_GINT64_FORMAT, prd_sio_socket_get_id (socket),
           fresh->exp);
  ack = json_object_new ();
  json_object_set_int_member (ack, "exp", fresh->exp);
  prd_hub_reply_ok (socket, ack_id, ack);
}

static void
prd_hub_tokens_dispose (GObject *object)
{
  PrdHubTokens *self = PRD_HUB_TOKENS (object);

  g_cancellable_cancel (self->cancellable);
  /* The sockets may outlive the hub: their watches forget it. */
  if (self->watches != NULL)
    {
      for (GSequenceIter *it = g_sequence_get_begin_iter (self->watches);
           !g_sequence_iter_is_end (it); it = g_sequence_iter_next (it))
        ((Watch *) g_sequence_get (it))->owner = NULL;
      g_clear_pointer (&self->watches, g_sequence_free);
    }
  if (self->timer != NULL)
    {
      g_source_destroy (self->timer);
      g_clear_pointer (&self->timer, g_source_unref);
    }
  g_clear_object (&self->store);
  g_clear_object (&self->auth);
  g_clear_object (&self->cancellable);

  G_OBJECT_CLASS (prd_hub_tokens_parent_class)->dispose (object);
}

static void
prd_hub_tokens_class_init (PrdHubTokensClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = prd_hub_tokens_dispose;

  /**
   * PrdHubTokens::identities-revoked:
   * @org: the user's organization
   * @user_id: the user (the tokens' `sub`)
   * @revoked_at: seconds since the Unix epoch: the user's tokens issued at
   *   or before it (or without `iat`) are revoked
   *
   * A revocation read from the store for the first time (or one that moved
   * a user's revocation later) was given to #PrdAuth. Emitted before the
   * user's open connections are ended, once per revocation and read.
   */
  signals[SIGNAL_IDENTITIES_REVOKED] =
      g_signal_new ("identities-revoked", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                    NULL, NULL, G_TYPE_NONE, 3, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_INT64);
}

static void
prd_hub_tokens_init (PrdHubTokens *self)
{
  self->watches = g_sequence_new (NULL);
  self->cancellable = g_cancellable_new ();
  self->timer = g_source_new (&timer_funcs, sizeof (GSource));
  g_source_set_callback (self->timer, on_timer, self, NULL);
  g_source_set_name (self->timer, "[prdhub] token expiry and revocation");
  g_source_attach (self->timer, NULL);
}

/**
 * prd_hub_tokens_new:
 * @auth: the hub's verifier; revocations read from the store are given to it
 * @revocation_check_interval: seconds between two reads of the revocations
 */
PrdHubTokens *
prd_hub_tokens_new (PrdAuth *auth, guint revocation_check_interval)
{
  PrdHubTokens *self;

  g_return_val_if_fail (PRD_IS_AUTH (auth), NULL);
  g_return_val_if_fail (revocation_check_interval > 0, NULL);

  self = g_object_new (PRD_TYPE_HUB_TOKENS, NULL);
  self->auth = g_object_ref (auth);
  self->check_interval = revocation_check_interval;
  return self;
}

/**
 * prd_hub_tokens_add_namespace:
 *
 * Offers `refresh-token` on @nsp.
 */
void
prd_hub_tokens_add_namespace (PrdHubTokens *self, PrdSioNamespace *nsp)
{
  g_return_if_fail (PRD_IS_HUB_TOKENS (self));

  prd_hub_add_events (nsp, events, G_N_ELEMENTS (events), self);
}

/**
 * prd_hub_tokens_watch:
 * @socket: a socket that has just authenticated (its identity is set)
 *
 * Disconnects @socket when its token expires or is revoked.
 */
void
prd_hub_tokens_watch (PrdHubTokens *self, PrdSioSocket *socket)
{
  Watch *watch;

  g_return_if_fail (PRD_IS_HUB_TOKENS (self));
  g_return_if_fail (prd_hub_socket_get_identity (socket) != NULL);

  watch = g_new0 (Watch, 1);
  watch->owner = self;
  watch->socket = socket;
  watch->iter = g_sequence_insert_sorted (self->watches, watch, compare_watches, NULL);
  g_object_set_data_full (G_OBJECT (socket), WATCH_KEY, watch, watch_free);
  arm (self);
}

/**
 * prd_hub_tokens_set_wall_clock: (skip)
 * @wall_clock: (nullable): what to read instead of g_get_real_time()
 *
 * For the tests (prd-hub-tokens-private.h).
 */
void
prd_hub_tokens_set_wall_clock (PrdHubTokens *self,
                               PrdHubTokensWallClock wall_clock,
                               gpointer user_data)
{
  g_return_if_fail (PRD_IS_HUB_TOKENS (self));

  self->wall_clock = wall_clock;
  self->wall_clock_data = user_data;
  arm (self);
}

/**
 * prd_hub_tokens_set_store:
 * @store: where `prdhub token revoke` records revocations
 *
 * Reads the revocations now and every revocation check interval from now on.
 */
void
prd_hub_tokens_set_store (PrdHubTokens *self, PrdRevocationStore *store)
{
  g_return_if_fail (PRD_IS_HUB_TOKENS (self));
  g_return_if_fail (PRD_IS_REVOCATION_STORE (store));

  g_set_object (&self->store, store);
  self->next_check = g_get_monotonic_time ();
  arm (self);
}

static void
on_link_used (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  PrdHubTokens *self = g_task_get_source_object (task);
  PrdIdentity *identity = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;
  char *token;

  if (!prd_revocation_store_use_link_finish (PRD_REVOCATION_STORE (source), result, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (self->auth == NULL)
    {
      g_task_return_new_error (task, PRD_ERROR, PRD_ERROR_STORAGE, "The hub is stopping");
      return;
    }
  token = prd_auth_mint (self->auth, identity, &error);
  if (token == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  g_info ("signed in: user=%s org=%s through a sign-in link", identity->user_id, identity->org);
  g_task_return_pointer (task, token, g_free);
}

/**
 * prd_hub_tokens_sign_in_async:
 * @link_token: the token of a sign-in link (prd_auth_mint_link())
 *
 * Trades @link_token, once, for a session's token of the same identity and
 * expiry.
 */
void
prd_hub_tokens_sign_in_async (PrdHubTokens *self,
                              const char *link_token,
                              GCancellable *cancellable,
                              GAsyncReadyCallback callback,
                              gpointer user_data)
{
  g_autoptr (GTask) task = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *link_id = NULL;
  PrdIdentity *identity;

  g_return_if_fail (PRD_IS_HUB_TOKENS (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, prd_hub_tokens_sign_in_async);
  identity = prd_auth_verify_link_at (self->auth, link_token, now_seconds (self), &link_id, &error);
  if (identity == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  g_task_set_task_data (task, identity, (GDestroyNotify) prd_identity_free);
  if (self->store == NULL)
    {
      g_task_return_new_error (task, PRD_ERROR, PRD_ERROR_STORAGE,
                               "The hub's store is not open yet: try again in a moment");
      return;
    }
  prd_revocation_store_use_link_async (self->store, link_id, identity->exp, cancellable,
                                       on_link_used, g_steal_pointer (&task));
}

/**
 * prd_hub_tokens_sign_in_finish:
 *
 * Returns: (transfer full): the session's token, or %NULL with @error:
 *   %PRD_ERROR_AUTHENTICATION_FAILED (not a sign-in link's token),
 *   %PRD_ERROR_TOKEN_EXPIRED, %PRD_ERROR_TOKEN_REVOKED (the user's tokens
 *   were revoked, or the link was used already), or a store error
 */
char *
prd_hub_tokens_sign_in_finish (PrdHubTokens *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
