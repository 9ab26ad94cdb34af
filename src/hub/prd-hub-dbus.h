/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "prd-dbus-hub1.h"
#include "prd-hub-discovery.h"
#include "prd-hub.h"

G_BEGIN_DECLS

/* The well-known name and object path of the admin interface. */
#define PRD_HUB_DBUS_NAME "org.prdtool.Hub"
#define PRD_HUB_DBUS_PATH "/org/prdtool/Hub"

/* Shortest time between two emissions of PropertiesChanged, SessionsChanged
 * or one job's AiJobChanged. */
#define PRD_HUB_DBUS_INTERVAL_MS 500

/* How many finished AI jobs ListAiJobs keeps showing. */
#define PRD_HUB_DBUS_MAX_FINISHED_JOBS 100

#define PRD_TYPE_HUB_DBUS (prd_hub_dbus_get_type ())
G_DECLARE_FINAL_TYPE (PrdHubDbus, prd_hub_dbus, PRD, HUB_DBUS, PrdDbusHub1Skeleton)

PrdHubDbus *prd_hub_dbus_new (PrdHub *hub);
void prd_hub_dbus_start (PrdHubDbus *self);
void prd_hub_dbus_set_discovery (PrdHubDbus *self, PrdHubDiscovery *discovery);

G_END_DECLS
