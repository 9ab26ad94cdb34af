/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* autoptr support for foreign handles. Each block is guarded so that a layer
 * that does not link the library does not need its headers. */

#include <glib.h>

#ifdef JWT_H
G_DEFINE_AUTOPTR_CLEANUP_FUNC (jwt_t, jwt_free)
#endif

#ifdef SQLITE3_H
G_DEFINE_AUTOPTR_CLEANUP_FUNC (sqlite3, sqlite3_close)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (sqlite3_stmt, sqlite3_finalize)
#endif

#ifdef CMARK_H
G_DEFINE_AUTOPTR_CLEANUP_FUNC (cmark_node, cmark_node_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (cmark_iter, cmark_iter_free)
#endif
