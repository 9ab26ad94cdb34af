/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>

#include "prd-admin-record.h"

G_BEGIN_DECLS

/* Returns: (transfer full): the cell's text for @key of @record */
typedef char *(*PrdAdminFormatFunc) (PrdAdminRecord *record, const char *key);

typedef enum
{
  PRD_ADMIN_SORT_TEXT,
  PRD_ADMIN_SORT_NUMBER,
} PrdAdminSort;

void prd_admin_column_set_text (GtkColumnViewColumn *column,
                                const char *key,
                                PrdAdminFormatFunc format,
                                PrdAdminSort sort);
void prd_admin_column_refresh (GtkColumnViewColumn *column);
void prd_admin_column_set_button (GtkColumnViewColumn *column,
                                  const char *icon_name,
                                  const char *tooltip,
                                  const char *action_name,
                                  const char *id_key,
                                  const char *sensitive_key,
                                  const char *const *sensitive_values,
                                  PrdAdminFormatFunc label);

char *prd_admin_format_string (PrdAdminRecord *record, const char *key);
char *prd_admin_format_number (PrdAdminRecord *record, const char *key);
char *prd_admin_format_clock (PrdAdminRecord *record, const char *key);
char *prd_admin_format_word (PrdAdminRecord *record, const char *key);
char *prd_admin_time_to_string (gint64 usec);
char *prd_admin_duration_to_string (gint64 ms);
const char *prd_admin_word (const char *value);

/* What an empty cell shows (and a screen reader reads). */
#define PRD_ADMIN_EMPTY_CELL "—"
/* The longest text from the hub a dialog or toast shows whole. */
#define PRD_ADMIN_SHORT_CHARS 64

char *prd_admin_shorten (const char *text);
void prd_admin_show_toast (GtkWidget *widget, const char *title);
AdwMessageDialog *prd_admin_confirm_dialog_new (GtkWidget *widget,
                                                const char *heading,
                                                const char *body,
                                                const char *keep,
                                                const char *keep_label,
                                                const char *act,
                                                const char *act_label);
gboolean
prd_admin_record_matches (PrdAdminRecord *record, const char *const *keys, const char *needle);
void prd_admin_store_replace (GListStore *store, GVariant *dicts);
GHashTable *prd_admin_rows_new (void);
void prd_admin_store_merge (
    GListStore *store, GHashTable *rows, GPtrArray *dicts, const char *const *keys, gboolean full);
void prd_admin_store_forget (GListStore *store, GHashTable *rows, const char *id);

G_END_DECLS
