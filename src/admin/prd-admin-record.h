/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define PRD_TYPE_ADMIN_RECORD (prd_admin_record_get_type ())
G_DECLARE_FINAL_TYPE (PrdAdminRecord, prd_admin_record, PRD, ADMIN_RECORD, GObject)

PrdAdminRecord *prd_admin_record_new (GVariant *dict);
GVariant *prd_admin_record_get_dict (PrdAdminRecord *self);
const char *prd_admin_record_get_string (PrdAdminRecord *self, const char *key);
gint64 prd_admin_record_get_int (PrdAdminRecord *self, const char *key);
void prd_admin_record_set_dict (PrdAdminRecord *self, GVariant *dict);

G_END_DECLS
