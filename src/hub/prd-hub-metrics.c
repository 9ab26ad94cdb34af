/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * GET /metrics: the hub's metrics in the Prometheus text exposition format
 * 0.0.4 (`text/plain; version=0.0.4`).
 *
 * Most families are counted where things happen, by the layers themselves,
 * into the process-wide registry of prd-metrics.c (events in and out by
 * name, acks and their latency, broadcasts, rate-limit refusals, slow
 * consumers dropped, SQLite commits). What only the hub knows is kept here
 * from the signals prd-hub.c connects (who is joined to which PRD, the AI
 * jobs queued, running and finished) or read when scraped (connections by
 * transport, the process's memory and CPU). No feature calls this file, and
 * it calls no feature.
 *
 * Access ([metrics] in the configuration): a request from an address in
 * `allow-without-token` (default: loopback) that names the hub by an IP
 * address or as localhost in its Host header is answered as it is; any other
 * needs an admin's bearer token (401 without a valid token, 403 with a
 * token of another role). `enabled = false` answers 404.
 */
#define G_LOG_DOMAIN "prd-hub-metrics"

#include "config.h"

#include <string.h>

#include <gio/gio.h>

#include "prd-error.h"
#include "prd-hub-config-metrics.h"
#include "prd-metrics.h"

#include "prd-hub-metrics.h"

#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct _PrdHubMetrics
{
  GObject parent_instance;

  PrdEioServer *engine; /* (owned) */
  PrdAuth *auth;        /* (owned) */
  PrdHubConfig *config; /* (owned) */
  GPtrArray *allowed;   /* (owned) (element-type GInetAddressMask) */
  GHashTable *members;  /* (owned) PRD id → (owned) GHashTable member → (owned) user id */
  GHashTable *orgs;     /* (owned) PRD id → (owned) its organization, for the PRDs in members */
  GHashTable *jobs;     /* (owned) job id → PrdAiJobState (as pointer) */
};

G_DEFINE_FINAL_TYPE (PrdHubMetrics, prd_hub_metrics, G_TYPE_OBJECT)

/* (unowned): the registry's; the hub counts finished AI jobs itself. */
static PrdMetric *ai_jobs_finished;

static void
prd_hub_metrics_finalize (GObject *object)
{
  PrdHubMetrics *self = PRD_HUB_METRICS (object);

  g_clear_object (&self->engine);
  g_clear_object (&self->auth);
  g_clear_pointer (&self->config, prd_hub_config_unref);
  g_clear_pointer (&self->allowed, g_ptr_array_unref);
  g_clear_pointer (&self->members, g_hash_table_unref);
  g_clear_pointer (&self->orgs, g_hash_table_unref);
  g_clear_pointer (&self->jobs, g_hash_table_unref);
  G_OBJECT_CLASS (prd_hub_metrics_parent_class)->finalize (object);
}

static void
prd_hub_metrics_class_init (PrdHubMetricsClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  static const PrdAiJobState finished[] = {
    PRD_AI_JOB_COMPLETE,
    PRD_AI_JOB_FAILED,
    PRD_AI_JOB_CANCELLED,
  };

  object_class->finalize = prd_hub_metrics_finalize;

  ai_jobs_finished = prd_metric_counter ("prdhub_ai_jobs_finished_total",
                                         "AI jobs that ended, by how they ended.", "state");
  /* Every state is shown from the start, at 0. */
  for (guint i = 0; i < G_N_ELEMENTS (finished); i++)
    prd_metric_add (ai_jobs_finished, prd_ai_job_state_to_string (finished[i]), 0);
}

static void
prd_hub_metrics_init (PrdHubMetrics *self)
{
  self->allowed = g_ptr_array_new_with_free_func (g_object_unref);
  self->members =
      g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_hash_table_unref);
  self->orgs = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->jobs = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
}

/**
 * prd_hub_metrics_new:
 * @engine: whose sessions are counted by transport
 * @auth: verifies the bearer tokens of requests from other addresses
 * @config: its [metrics] group decides who may read
 */
PrdHubMetrics *
prd_hub_metrics_new (PrdEioServer *engine, PrdAuth *auth, PrdHubConfig *config)
{
  PrdHubMetrics *self;
  const PrdHubMetricsConfig *settings;

  g_return_val_if_fail (PRD_IS_EIO_SERVER (engine), NULL);
  g_return_val_if_fail (PRD_IS_AUTH (auth), NULL);
  g_return_val_if_fail (config != NULL, NULL);

  self = g_object_new (PRD_TYPE_HUB_METRICS, NULL);
  self->engine = g_object_ref (engine);
  self->auth = g_object_ref (auth);
  self->config = prd_hub_config_ref (config);
  settings = prd_hub_config_get_metrics (config);
  for (guint i = 0; settings->allow_without_token != NULL && settings->allow_without_token[i]; i++)
    {
      /* Checked when the configuration was read. */
      GInetAddressMask *mask =
          g_inet_address_mask_new_from_string (settings->allow_without_token[i], NULL);

      g_assert (mask != NULL);
      g_ptr_array_add (self->allowed, mask);
    }
  return self;
}

/**
 * prd_hub_metrics_member_joined:
 * @org: the organization @prd_id belongs to
 * @member: the joined connection (compared, never dereferenced)
 *
 * A connection joined @prd_id (or repeated its join).
 */
void
prd_hub_metrics_member_joined (PrdHubMetrics *self,
                               const char *prd_id,
                               const char *org,
                               gconstpointer member,
                               const char *user_id)
{
  GHashTable *room;

  g_return_if_fail (PRD_IS_HUB_METRICS (self));

  room = g_hash_table_lookup (self->members, prd_id);
  if (room == NULL)
    {
      room = g_hash_table_new_full (NULL, NULL, NULL, g_free);
      g_hash_table_insert (self->members, g_strdup (prd_id), room);
      g_hash_table_replace (self->orgs, g_strdup (prd_id), g_strdup (org));
    }
  g_hash_table_replace (room, (gpointer) member, g_strdup (user_id));
}

void
prd_hub_metrics_member_left (PrdHubMetrics *self, const char *prd_id, gconstpointer member)
{
  GHashTable *room;

  g_return_if_fail (PRD_IS_HUB_METRICS (self));

  room = g_hash_table_lookup (self->members, prd_id);
  if (room == NULL)
    return;
  g_hash_table_remove (room, member);
  if (g_hash_table_size (room) == 0)
    {
      g_hash_table_remove (self->orgs, prd_id);
      g_hash_table_remove (self->members, prd_id);
    }
}

/**
 * prd_hub_metrics_job_changed:
 *
 * An AI job was queued, started, streamed or ended.
 */
void
prd_hub_metrics_job_changed (PrdHubMetrics *self, const PrdAiJob *job)
{
  g_return_if_fail (PRD_IS_HUB_METRICS (self));

  if (!prd_ai_job_is_finished (job))
    {
      g_hash_table_replace (self->jobs, g_strdup (job->id), GINT_TO_POINTER (job->state));
      return;
    }
  /* Ended: emitted once, before the job is forgotten. */
  g_hash_table_remove (self->jobs, job->id);
  prd_metric_inc (ai_jobs_finished, prd_ai_job_state_to_string (job->state));
}

static guint
count_users (GHashTable *room)
{
  g_autoptr (GHashTable) users = g_hash_table_new (g_str_hash, g_str_equal);
  GHashTableIter iter;
  gpointer user;

  g_hash_table_iter_init (&iter, room);
  while (g_hash_table_iter_next (&iter, NULL, &user))
    g_hash_table_add (users, user);
  return g_hash_table_size (users);
}

typedef struct
{
  const char *prd_id; /* (unowned): a key of members */
  guint n_users;
} JoinedUsers;

/* Most users first, then by id: which PRDs get a series of their own when
 * there are more than the family keeps does not depend on the tables'
 * order. */
static int
compare_joined_users (gconstpointer a, gconstpointer b)
{
  const JoinedUsers *x = a;
  const JoinedUsers *y = b;

  if (x->n_users != y->n_users)
    return x->n_users > y->n_users ? -1 : 1;
  return g_strcmp0 (x->prd_id, y->prd_id);
}

/* prdhub_prd_joined_users: one series per PRD of @org (every organization's
 * when %NULL), at most PRD_METRIC_MAX_LABEL_VALUES of them, the PRDs with
 * the most users; the users of the others summed under "other". */
static void
render_joined_users (PrdHubMetrics *self, const char *org, GString *out)
{
  g_autoptr (GArray) rows =
      g_array_sized_new (FALSE, FALSE, sizeof (JoinedUsers), g_hash_table_size (self->members));
  GHashTableIter iter;
  gpointer prd_id, room;
  guint64 others = 0;

  g_hash_table_iter_init (&iter, self->members);
  while (g_hash_table_iter_next (&iter, &prd_id, &room))
    if (org == NULL || g_strcmp0 (g_hash_table_lookup (self->orgs, prd_id), org) == 0)
      {
        JoinedUsers row = { prd_id, count_users (room) };

        g_array_append_val (rows, row);
      }
  g_array_sort (rows, compare_joined_users);
  for (guint i = 0; i < rows->len; i++)
    {
      const JoinedUsers *row = &g_array_index (rows, JoinedUsers, i);

      if (i < PRD_METRIC_MAX_LABEL_VALUES)
        prd_metrics_write_sample (out, "prdhub_prd_joined_users", "prd", row->prd_id, row->n_users);
      else
        others += row->n_users;
    }
  if (rows->len > PRD_METRIC_MAX_LABEL_VALUES)
    prd_metrics_write_sample (out, "prdhub_prd_joined_users", "prd", PRD_METRIC_OTHER_LABEL,
                              others);
}

static void
render_collected (PrdHubMetrics *self, const char *org, GString *out)
{
  static const char *const transports[] = { "polling", "websocket" };
  static const PrdAiJobState active[] = { PRD_AI_JOB_QUEUED, PRD_AI_JOB_STREAMING };

  prd_metrics_write_header (out, "prdhub_build_info", "The hub's version (always 1).", "gauge");
  prd_metrics_write_sample (out, "prdhub_build_info", "version", PACKAGE_VERSION, 1);

  prd_metrics_write_header (out, "prdhub_connections",
                            "Open Engine.IO sessions, by their transport now.", "gauge");
  for (guint i = 0; i < G_N_ELEMENTS (transports); i++)
    prd_metrics_write_sample (out, "prdhub_connections", "transport", transports[i],
                              prd_eio_server_get_n_sockets_on (self->engine, transports[i]));

  prd_metrics_write_header (out, "prdhub_open_prds",
                            "PRDs that at least one connection has joined.", "gauge");
  prd_metrics_write_sample (out, "prdhub_open_prds", NULL, NULL, g_hash_table_size (self->members));
  prd_metrics_write_header (out, "prdhub_prd_joined_users",
                            "Distinct users joined to each PRD with at least one.", "gauge");
  render_joined_users (self, org, out);

  prd_metrics_write_header (out, "prdhub_ai_jobs", "AI jobs queued or running now, by state.",
                            "gauge");
  for (guint i = 0; i < G_N_ELEMENTS (active); i++)
    {
      GHashTableIter iter;
      gpointer state;
      guint n = 0;

      g_hash_table_iter_init (&iter, self->jobs);
      while (g_hash_table_iter_next (&iter, NULL, &state))
        if (GPOINTER_TO_INT (state) == (int) active[i])
          n++;
      prd_metrics_write_sample (out, "prdhub_ai_jobs", "state",
                                prd_ai_job_state_to_string (active[i]), n);
    }

  prd_metrics_render_process (out);
}

/**
 * prd_hub_metrics_render:
 * @org: (nullable): whose PRDs the per-PRD series show; %NULL: every
 *   organization's (for the hub's operator)
 *
 * Returns: (transfer full): every family, as GET /metrics serves it
 */
char *
prd_hub_metrics_render (PrdHubMetrics *self, const char *org)
{
  GString *out = g_string_sized_new (8192);

  g_return_val_if_fail (PRD_IS_HUB_METRICS (self), NULL);

  prd_metrics_render (out);
  render_collected (self, org, out);
  return g_string_free (out, FALSE);
}

/* Whether @host (a Host header) names this machine by an address or as
 * localhost, rather than by a name whoever runs its DNS can point anywhere. */
static gboolean
host_is_address (const char *host)
{
  g_autofree char *name = NULL;
  const char *end;

  if (host == NULL)
    return FALSE;
  if (host[0] == '[')
    {
      end = strchr (host, ']');
      if (end == NULL || (end[1] != '\0' && end[1] != ':'))
        return FALSE;
      name = g_strndup (host + 1, end - host - 1);
      return g_hostname_is_ip_address (name) && strchr (name, ':') != NULL;
    }
  end = strchr (host, ':');
  name = end != NULL ? g_strndup (host, end - host) : g_strdup (host);
  return g_ascii_strcasecmp (name, "localhost") == 0 ||
         (g_hostname_is_ip_address (name) && strchr (name, ':') == NULL);
}

static gboolean
allowed_without_token (PrdHubMetrics *self, SoupServerMessage *msg)
{
  GSocketAddress *remote = soup_server_message_get_remote_address (msg);
  GInetAddress *inet;

  if (!G_IS_INET_SOCKET_ADDRESS (remote))
    return FALSE;
  /* A page a browser loaded from a name that then resolved to this machine
   * (DNS rebinding) sends that name: it needs a token like anyone else. */
  if (!host_is_address (
          soup_message_headers_get_one (soup_server_message_get_request_headers (msg), "Host")))
    return FALSE;
  inet = g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (remote));
  for (guint i = 0; i < self->allowed->len; i++)
    if (g_inet_address_mask_matches (g_ptr_array_index (self->allowed, i), inet))
      return TRUE;
  return FALSE;
}

/* An admin's bearer token (its identity), else the request is answered
 * with why not. */
static PrdIdentity *
check_admin (PrdHubMetrics *self, SoupServerMessage *msg)
{
  const char *header =
      soup_message_headers_get_one (soup_server_message_get_request_headers (msg), "Authorization");
  g_autoptr (PrdIdentity) identity = NULL;
  g_autoptr (GError) error = NULL;

  if (header == NULL || g_ascii_strncasecmp (header, "Bearer ", 7) != 0)
    {
      prd_hub_rest_respond_error_literal (msg, PRD_ERROR_AUTHENTICATION_FAILED,
                                          "Authorization: Bearer <token> of an admin is required");
      return NULL;
    }
  identity = prd_auth_verify (self->auth, header + 7, &error);
  if (identity == NULL)
    {
      prd_hub_rest_respond_error (msg, error);
      return NULL;
    }
  if (identity->role != PRD_ROLE_ADMIN)
    {
      prd_hub_rest_respond_error_literal (msg, PRD_ERROR_FORBIDDEN,
                                          "Only admins may read the metrics");
      return NULL;
    }
  return g_steal_pointer (&identity);
}

static void
handle_metrics (SoupServerMessage *msg,
                const PrdIdentity *unused,
                const char *const *params,
                GHashTable *query,
                gpointer user_data)
{
  PrdHubMetrics *self = user_data;
  g_autoptr (PrdIdentity) admin = NULL;
  char *text;

  if (!prd_hub_config_get_metrics (self->config)->enabled)
    {
      prd_hub_rest_respond_error_literal (msg, PRD_ERROR_NOT_FOUND,
                                          "Metrics are turned off ([metrics] enabled = false)");
      return;
    }
  /* An organization's admin sees the hub's totals and its own PRDs, not
   * which PRDs other organizations have open. */
  if (!allowed_without_token (self, msg) && (admin = check_admin (self, msg)) == NULL)
    return;
  text = prd_hub_metrics_render (self, admin != NULL ? admin->org : NULL);
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (msg, CONTENT_TYPE, SOUP_MEMORY_TAKE, text, strlen (text));
}

static const PrdHubRouteEntry metrics_routes[] = {
  { "GET", "/metrics", handle_metrics },
};

/**
 * prd_hub_metrics_add_routes:
 *
 * Adds `GET /metrics` to @rest.
 */
void
prd_hub_metrics_add_routes (PrdHubMetrics *self, PrdHubRest *rest)
{
  g_return_if_fail (PRD_IS_HUB_METRICS (self));
  g_return_if_fail (PRD_IS_HUB_REST (rest));

  prd_hub_rest_add_routes (rest, metrics_routes, G_N_ELEMENTS (metrics_routes), g_object_ref (self),
                           g_object_unref);
}
