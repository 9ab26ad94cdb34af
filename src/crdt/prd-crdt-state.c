/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "prd-crdt"

#include "config.h"

#include "prd-error.h"
#include "prd-crdt-private.h"
