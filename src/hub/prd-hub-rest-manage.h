/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "prd-hub-manage.h"
#include "prd-hub-rest.h"

G_BEGIN_DECLS

void prd_hub_rest_manage_add (PrdHubRest *rest, PrdHubManage *manage);

G_END_DECLS
