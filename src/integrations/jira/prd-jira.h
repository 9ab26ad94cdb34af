/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "prd-integration-store.h"
#include "prd-integration.h"
#include "prd-jira-stories.h"

G_BEGIN_DECLS

#define PRD_JIRA_SERVICE "jira"
/* The most issues one bulk create sends (Jira's own limit). */
#define PRD_JIRA_BULK_LIMIT 50
/* The most entries a search for one PRD's issues reads, issues or not. */
#define PRD_JIRA_MAX_SEARCH 1000
/* The most pages a search for one PRD's issues asks for, empty ones too
 * (one a page for every entry it may read): a search that needs more
 * fails (INTEGRATION_ERROR). */
#define PRD_JIRA_MAX_SEARCH_PAGES 1000

/**
 * PrdJiraIssue: an issue as a search found it
 */
typedef struct
{
  char *id;
  char *key;
  char *summary;
  char *status;
} PrdJiraIssue;

void prd_jira_issue_free (PrdJiraIssue *issue);

/**
 * PrdJiraResult:
 * @created: issues created (export) or items added to the PRD (import)
 * @updated: issues updated (export) or item titles rewritten (import)
 * @errors: items that failed
 * @issues: (element-type JsonObject): `{key, title, url}` of every issue
 *   created or updated
 * @failures: (element-type JsonObject): `{title, message}` of every item
 *   that failed
 * @links: (element-type PrdIntegrationLinkRecord): the links to keep
 */
typedef struct
{
  guint created;
  guint updated;
  guint errors;
  GPtrArray *issues;
  GPtrArray *failures;
  GPtrArray *links;
} PrdJiraResult;

PrdJiraResult *prd_jira_result_new (void);
void prd_jira_result_free (PrdJiraResult *result);
void prd_jira_result_merge (PrdJiraResult *into, PrdJiraResult *from);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrdJiraResult, prd_jira_result_free)

/**
 * PrdJiraEdit: replace bytes [@start, @end) of the PRD's text with @text
 */
typedef struct
{
  gsize start;
  gsize end;
  char *text;
} PrdJiraEdit;

/**
 * PrdJiraImportPlan:
 * @edits: (element-type PrdJiraEdit): from the end of the text backwards,
 *   so that each applies to the text the previous one left
 * @result: what the import counts, and the links to keep
 */
typedef struct
{
  GPtrArray *edits;
  PrdJiraResult *result;
} PrdJiraImportPlan;

void prd_jira_import_plan_free (PrdJiraImportPlan *plan);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrdJiraImportPlan, prd_jira_import_plan_free)

#define PRD_TYPE_JIRA (prd_jira_get_type ())

G_DECLARE_FINAL_TYPE (PrdJira, prd_jira, PRD, JIRA, GObject)

const char *prd_jira_get_project_key (PrdJira *self);
const char *prd_jira_get_webhook_secret (PrdJira *self);
char *prd_jira_browse_url (PrdJira *self, const char *key);

GPtrArray *prd_jira_match (PrdJiraStories *stories, GPtrArray *links);
PrdJiraImportPlan *prd_jira_plan_import (PrdJira *self,
                                         const char *org,
                                         const char *prd_id,
                                         const char *text,
                                         GPtrArray *links,
                                         GPtrArray *issues);

void prd_jira_search_async (PrdJira *self,
                            const char *prd_id,
                            GCancellable *cancellable,
                            GAsyncReadyCallback callback,
                            gpointer user_data);
GPtrArray *prd_jira_search_finish (PrdJira *self, GAsyncResult *result, GError **error);

void prd_jira_export_async (PrdJira *self,
                            const char *org,
                            const char *prd_id,
                            const char *prd_title,
                            const char *prd_url,
                            const char *project_key,
                            const char *text,
                            GPtrArray *links,
                            GCancellable *cancellable,
                            GAsyncReadyCallback callback,
                            gpointer user_data);
PrdJiraResult *prd_jira_export_finish (PrdJira *self, GAsyncResult *result, GError **error);

char *
prd_jira_description_wiki (const char *description, const char *prd_title, const char *prd_url);
JsonNode *
prd_jira_description_adf (const char *description, const char *prd_title, const char *prd_url);

G_END_DECLS
