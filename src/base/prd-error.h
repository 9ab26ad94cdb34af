/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define PRD_ERROR (prd_error_quark ())

/**
 * PrdErrorCode:
 *
 * Every failure the hub can report to a client. Each code maps to exactly one
 * stable UPPER_SNAKE protocol code in prd-error.c; docs/protocol.md lists them.
 */
typedef enum
{
  PRD_ERROR_INTERNAL,
  PRD_ERROR_INVALID_PAYLOAD,
  PRD_ERROR_AUTHENTICATION_FAILED,
  PRD_ERROR_TOKEN_EXPIRED,
  PRD_ERROR_FORBIDDEN,
  PRD_ERROR_RATE_LIMITED,
  PRD_ERROR_PAYLOAD_TOO_LARGE,
  PRD_ERROR_NOT_FOUND,
  PRD_ERROR_PRD_NOT_FOUND,
  PRD_ERROR_INVALID_OPERATION,
  PRD_ERROR_SITE_CONFLICT,
  PRD_ERROR_NOT_JOINED,
  PRD_ERROR_STORAGE,
  PRD_ERROR_CORRUPT_DATA,
  PRD_ERROR_UNSUPPORTED_VERSION,
  PRD_ERROR_CONFIG,
  PRD_ERROR_UNKNOWN_EVENT,
  PRD_ERROR_INVALID_ID,
  PRD_ERROR_ALREADY_EXISTS,
  PRD_ERROR_PROVIDER_ERROR,
  PRD_ERROR_PROVIDER_TIMEOUT,
  PRD_ERROR_PROVIDER_PROTOCOL_ERROR,
  PRD_ERROR_CANCELLED,
  PRD_ERROR_AI_NOT_CONFIGURED,
  PRD_ERROR_RATE_LIMIT_EXCEEDED,
  PRD_ERROR_SECRET_STORE,
  PRD_ERROR_INTERRUPTED,
  PRD_ERROR_OPERATION_ID_REUSED,
  PRD_ERROR_TOKEN_REVOKED,
  PRD_ERROR_VERSION_UNCHANGED,
  PRD_ERROR_TLS_REQUIRED,
  PRD_ERROR_LIMIT_REACHED,
  PRD_ERROR_INTEGRATION_NOT_CONFIGURED,
  PRD_ERROR_INTEGRATION_ERROR,
  PRD_ERROR_SYNC_IN_PROGRESS,
} PrdErrorCode;

#define PRD_ERROR_N_CODES (PRD_ERROR_SYNC_IN_PROGRESS + 1)

GQuark prd_error_quark (void);
const char *prd_error_code_to_string (PrdErrorCode code);
gboolean prd_error_code_from_string (const char *str, PrdErrorCode *code);
const char *prd_error_get_protocol_code (const GError *error);
GError *prd_error_new_prd_not_found (const char *prd_id);
char *prd_error_truncate_message (const char *text, glong max_chars);

G_END_DECLS
