/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* What stands for a secret wherever a service's own text quotes it in an
 * error message. */
#define PRD_REDACTED "[redacted]"
/* The fewest characters of a secret redacted where a cut leaves only part
 * of it at the end (its start) or the start (its end) of a text, and the
 * shortest secret looked for at all: fewer would take common words for it,
 * and give away next to nothing. */
#define PRD_REDACT_MIN_PARTIAL 4
/* The most layers of escapes prd_redact() reads through: an escape whose
 * own characters are escaped (`%252B`, `&#37;2B`, `%5Cu002b`) is one layer
 * more. Each layer multiplies what one character of the text may cost to
 * read, so it is bounded; a secret escaped more often than this stays as
 * it is. */
#define PRD_REDACT_MAX_LAYERS 4

char *prd_redact (const char *text, const char *key);
char *prd_redact_all (const char *text, GPtrArray *secrets);

G_END_DECLS
