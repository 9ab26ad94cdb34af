/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _PrdHubAnswerCache PrdHubAnswerCache;

PrdHubAnswerCache *prd_hub_answer_cache_new (guint max_entries, gsize max_bytes);
PrdHubAnswerCache *prd_hub_answer_cache_ref (PrdHubAnswerCache *cache);
void prd_hub_answer_cache_unref (PrdHubAnswerCache *cache);
GBytes *prd_hub_answer_cache_lookup (PrdHubAnswerCache *cache, const char *key, GArray *vector);
void prd_hub_answer_cache_insert (PrdHubAnswerCache *cache,
                                  const char *key,
                                  GArray *vector,
                                  GBytes *answer);
void prd_hub_answer_cache_remove (PrdHubAnswerCache *cache, const char *key);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrdHubAnswerCache, prd_hub_answer_cache_unref)

G_END_DECLS
