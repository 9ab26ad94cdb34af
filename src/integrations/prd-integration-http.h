/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

G_BEGIN_DECLS

/**
 * PrdIntegrationHttpError:
 * @PRD_INTEGRATION_HTTP_ERROR_TRANSPORT: the server was never reached, or
 *   the connection failed before an answer came (DNS, TCP, TLS, timeout);
 *   a POST may or may not have been applied
 * @PRD_INTEGRATION_HTTP_ERROR_STATUS: the server answered with an error
 *   status (see prd_integration_http_error_get_status())
 * @PRD_INTEGRATION_HTTP_ERROR_NOT_JSON: a success answer whose body is
 *   not the JSON expected
 * @PRD_INTEGRATION_HTTP_ERROR_RATE_LIMITED: still rate limited after the
 *   retries, or told to wait longer than the client waits
 */
typedef enum
{
  PRD_INTEGRATION_HTTP_ERROR_TRANSPORT,
  PRD_INTEGRATION_HTTP_ERROR_STATUS,
  PRD_INTEGRATION_HTTP_ERROR_NOT_JSON,
  PRD_INTEGRATION_HTTP_ERROR_RATE_LIMITED,
} PrdIntegrationHttpError;

#define PRD_INTEGRATION_HTTP_ERROR (prd_integration_http_error_quark ())
GQuark prd_integration_http_error_quark (void);

/* The client's limits. */
#define PRD_INTEGRATION_HTTP_TIMEOUT         30    /* s, per request */
#define PRD_INTEGRATION_HTTP_MAX_ATTEMPTS    4     /* first try included */
#define PRD_INTEGRATION_HTTP_BACKOFF_BASE    500   /* ms */
#define PRD_INTEGRATION_HTTP_BACKOFF_CAP     8000  /* ms */
#define PRD_INTEGRATION_HTTP_MAX_RETRY_AFTER 60000 /* ms: a longer wait fails the call */
#define PRD_INTEGRATION_HTTP_MAX_BODY        (4 * 1024 * 1024)
#define PRD_INTEGRATION_HTTP_MAX_TEXT        65536 /* bytes, a TEXT_BODY answer */
#define PRD_INTEGRATION_HTTP_DEADLINE        120   /* s: an attempt, its whole answer included */

/**
 * PrdIntegrationHttpFlags:
 * @PRD_INTEGRATION_HTTP_DEFAULT: the request may have an effect that must
 *   not happen twice (POST): a transport failure is not retried
 * @PRD_INTEGRATION_HTTP_IDEMPOTENT: sending it twice does no harm (GET,
 *   PUT of the same body, a search POST): transport failures are retried
 * @PRD_INTEGRATION_HTTP_NO_BODY: the answer has no body to read as JSON
 *   (204)
 * @PRD_INTEGRATION_HTTP_BAD_REQUEST_BODY: a 400 answer with a JSON body is
 *   a response, not an error (a bulk request's per-item errors)
 * @PRD_INTEGRATION_HTTP_TEXT_BODY: the answer is text, kept as `text`
 *   (a Mattermost incoming webhook answers `ok`)
 * @PRD_INTEGRATION_HTTP_SECRET_URL: the URL is itself a secret (an
 *   incoming webhook's): logs and errors show only its scheme and host
 */
typedef enum
{
  PRD_INTEGRATION_HTTP_DEFAULT = 0,
  PRD_INTEGRATION_HTTP_IDEMPOTENT = 1 << 0,
  PRD_INTEGRATION_HTTP_NO_BODY = 1 << 1,
  PRD_INTEGRATION_HTTP_BAD_REQUEST_BODY = 1 << 2,
  PRD_INTEGRATION_HTTP_TEXT_BODY = 1 << 3,
  PRD_INTEGRATION_HTTP_SECRET_URL = 1 << 4,
} PrdIntegrationHttpFlags;

/**
 * PrdIntegrationHttpResponse:
 * @status: the HTTP status
 * @json: (nullable): the parsed body
 * @text: (nullable): the body as text (PRD_INTEGRATION_HTTP_TEXT_BODY)
 * @date: the answer's `Date` header, microseconds since the Unix epoch by
 *   the service's clock; 0 when it has none that reads as an HTTP date
 */
typedef struct
{
  guint status;
  JsonNode *json;
  char *text;
  gint64 date;
} PrdIntegrationHttpResponse;

void prd_integration_http_response_free (PrdIntegrationHttpResponse *response);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrdIntegrationHttpResponse, prd_integration_http_response_free)
JsonObject *prd_integration_http_response_get_object (const PrdIntegrationHttpResponse *response);

#define PRD_TYPE_INTEGRATION_HTTP (prd_integration_http_get_type ())

G_DECLARE_FINAL_TYPE (PrdIntegrationHttp, prd_integration_http, PRD, INTEGRATION_HTTP, GObject)

PrdIntegrationHttp *prd_integration_http_new (const char *service, const char *org);
const char *prd_integration_http_get_service (PrdIntegrationHttp *self);
const char *prd_integration_http_get_org (PrdIntegrationHttp *self);
void prd_integration_http_set_authorization (PrdIntegrationHttp *self, const char *value);
void prd_integration_http_set_credential (PrdIntegrationHttp *self,
                                          const char *header,
                                          const char *value);
void prd_integration_http_set_timeout (PrdIntegrationHttp *self, guint seconds);
void prd_integration_http_set_backoff (PrdIntegrationHttp *self, guint base_ms, guint cap_ms);
void prd_integration_http_set_deadline (PrdIntegrationHttp *self, guint seconds);
void prd_integration_http_shutdown (PrdIntegrationHttp *self);
GCancellable *prd_integration_http_get_shutdown (PrdIntegrationHttp *self);

void prd_integration_http_send_async (PrdIntegrationHttp *self,
                                      const char *method,
                                      const char *url,
                                      JsonNode *body,
                                      PrdIntegrationHttpFlags flags,
                                      GCancellable *cancellable,
                                      GAsyncReadyCallback callback,
                                      gpointer user_data);
PrdIntegrationHttpResponse *
prd_integration_http_send_finish (PrdIntegrationHttp *self, GAsyncResult *result, GError **error);

guint prd_integration_http_error_get_status (const GError *error);
void prd_integration_http_add_secret (GPtrArray *secrets, const char *secret);

/* Pure helpers, for the client and its tests. */
gboolean
prd_integration_http_parse_retry_after (const char *value, gint64 now_usec, gint64 *out_ms);
gint64 prd_integration_http_backoff_ms (guint attempt, guint base_ms, guint cap_ms, double random);
char *
prd_integration_http_describe_error_body (guint status, const char *content_type, GBytes *body);

G_END_DECLS
