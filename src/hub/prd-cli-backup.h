/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

int prd_cli_backup (int argc, char **argv);
int prd_cli_restore (int argc, char **argv);

G_END_DECLS
